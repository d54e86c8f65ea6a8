"""The user line behind an ``await`` that hops to a worker thread.

``await Book.objects.aget(pk=1)`` runs ``get()`` in a worker thread through
asgiref's ``SyncToAsync``; that thread's stack holds no user code, so the
query's location would be lost. ``SyncToAsync.__call__`` copies the caller's
context before the hop, so setting ``ASYNC_CALL_SITE`` just before calling
it carries the awaiting line into the thread. asgiref offers no hook for
this; the wrapper only adds work while a capture with stacks is active.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import SyncToAsync

from djperf._errors import contain
from djperf.record.hooks._patch import Patches
from djperf.record.scope import active, stacks_wanted
from djperf.record.stack import ASYNC_CALL_SITE, user_location

_patches = Patches()


def _locating_call(original: Any) -> Any:
    async def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        scopes = active()
        if not scopes or not stacks_wanted(scopes):
            return await original(self, *args, **kwargs)
        try:
            # Our own frame is djperf's; the walk starts at the awaiting code.
            site = user_location()
        except Exception:
            contain("async call site")
            return await original(self, *args, **kwargs)
        token = ASYNC_CALL_SITE.set(site)
        try:
            return await original(self, *args, **kwargs)
        finally:
            ASYNC_CALL_SITE.reset(token)

    return __call__


def install() -> None:
    if not _patches:
        _patches.wrap(SyncToAsync, "__call__", _locating_call)


def uninstall() -> None:
    _patches.undo()
