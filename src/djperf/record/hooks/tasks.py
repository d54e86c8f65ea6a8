"""Celery tasks: each task run is judged on its own, like a request.

Celery sends ``task_prerun`` and ``task_postrun`` in the thread that runs the
task, around it (eagerly applied tasks included). While a capture is open,
the receivers give the run a serial number in `djperf.record.work.REQUEST`.
Installed only when Celery is; with no capture open a receiver costs one
ContextVar read per task.
"""

from __future__ import annotations

from contextvars import Token
from typing import Any

from djperf._errors import contain
from djperf.record.scope import active
from djperf.record.work import REQUEST, next_serial

_DISPATCH_UID = "djperf.record.hooks.tasks"
# task id -> the token that ends its run.
_running: dict[str, Token[int | None]] = {}
_connected = False


def _task_started(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    try:
        if task_id is None or REQUEST.get() is not None or not active():
            return
        _running[task_id] = REQUEST.set(next_serial())
    except Exception:
        contain("celery task")


def _task_finished(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    token = _running.pop(task_id, None) if task_id is not None else None
    if token is None:
        return
    try:
        REQUEST.reset(token)
    except (ValueError, RuntimeError):
        # Finished in another context than it started: nothing to undo here.
        REQUEST.set(None)


def install() -> None:
    global _connected
    if _connected:
        return
    try:
        from celery import signals
    except ImportError:
        return
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid=_DISPATCH_UID)
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid=_DISPATCH_UID)
    _connected = True


def uninstall() -> None:
    global _connected
    if not _connected:
        return
    from celery import signals

    signals.task_prerun.disconnect(dispatch_uid=_DISPATCH_UID)
    signals.task_postrun.disconnect(dispatch_uid=_DISPATCH_UID)
    _running.clear()
    _connected = False
