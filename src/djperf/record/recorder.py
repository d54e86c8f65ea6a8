"""Capture scopes: ``djperf.capture()`` and the Recording it fills.

The active scopes live in one ContextVar as a tuple (innermost last). A
ContextVar is per thread and per asyncio task, and asgiref's sync_to_async
copies it into the worker thread, so a capture sees exactly the work of the
code it wraps: queries of another thread or task never leak in, while the
thread hops that belong to it are included. Nested scopes each record
everything that happens inside them.

Every hook starts with ``scopes = ACTIVE.get()`` and returns at once when the
tuple is empty: that is the whole cost of djperf installed but idle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from djperf import conf

if TYPE_CHECKING:
    from djperf.detect.findings import Finding
    from djperf.record.events import CacheCall, Evaluation, HttpCall, LazyLoad, Query

logger = logging.getLogger("djperf")


@dataclass(frozen=True, slots=True)
class Options:
    capture_params: bool = False
    stacks: bool = True
    # Detector ids to run when the scope exits; None runs all.
    detectors: frozenset[str] | None = None
    # Per-rule thresholds: {"n-plus-one": {"count": 3}}.
    thresholds: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class Recording:
    """Everything one capture scope saw, in the order it happened.

    ``queries``, ``lazy_loads`` and ``evaluations`` fill while the scope is
    open; ``findings`` are computed when it exits. Events arriving after the
    exit (from a task that outlived the scope) are ignored.
    """

    def __init__(self, options: Options) -> None:
        self.options = options
        self.queries: list[Query] = []
        self.lazy_loads: list[LazyLoad] = []
        self.evaluations: list[Evaluation] = []
        self.http_calls: list[HttpCall] = []
        self.cache_calls: list[CacheCall] = []
        self.findings: list[Finding] = []
        self.duration = 0.0
        self.open = True
        self._started = 0.0

    def __repr__(self) -> str:
        return (
            f"<Recording {len(self.queries)} queries, {len(self.lazy_loads)} lazy loads, "
            f"{len(self.findings)} findings>"
        )


ACTIVE: ContextVar[tuple[Recording, ...]] = ContextVar("djperf_active_scopes", default=())


def live(scopes: tuple[Recording, ...]) -> tuple[Recording, ...]:
    """The open recordings of `scopes`.

    A task created inside a scope keeps the scope's context after the scope
    has exited; its events belong to no open recording, so the hooks treat it
    as idle. Hooks call this only when the innermost scope is closed.
    """
    return tuple(rec for rec in scopes if rec.open)


class capture:
    """Record the queries, queryset evaluations and lazy loads of a block.

    ::

        with djperf.capture() as rec:
            list_books()
        rec.queries      # [Query(sql=..., fingerprint=..., location=...), ...]
        rec.lazy_loads   # every relation loaded one instance at a time
        rec.findings     # computed when the block exits

    Works as ``async with`` too. Scopes nest; each records what happens inside
    it. Query parameters are stored only with ``capture_params=True``.
    """

    def __init__(
        self,
        *,
        capture_params: bool | None = None,
        stacks: bool | None = None,
        detectors: Iterable[str] | None = None,
        thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.options = Options(
            capture_params=(
                bool(conf.get("CAPTURE_PARAMS")) if capture_params is None else capture_params
            ),
            stacks=bool(conf.get("STACKS")) if stacks is None else stacks,
            detectors=None if detectors is None else _rule_ids(detectors),
            thresholds=_checked_thresholds(thresholds or {}),
        )
        self.recording: Recording | None = None

    def __enter__(self) -> Recording:
        if self.recording is not None:
            raise RuntimeError("a capture() scope cannot be entered twice; create a new one")
        from djperf.record import hooks

        hooks.install()
        # Connections this thread opened before djperf installed.
        hooks.db.attach_current_thread()
        rec = self.recording = Recording(self.options)
        hooks.usage.scope_opened()
        ACTIVE.set((*ACTIVE.get(), rec))
        rec._started = time.perf_counter()
        return rec

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        rec = self.recording
        assert rec is not None, "__exit__ without __enter__"
        rec.duration = time.perf_counter() - rec._started
        rec.open = False
        # Remove this recording only, rather than ACTIVE.reset(token): that
        # would raise when the scope exits in another task than it entered (an
        # async fixture's teardown), and restore a stale tuple when scopes
        # exit out of order.
        ACTIVE.set(tuple(scope for scope in ACTIVE.get() if scope is not rec))
        from djperf.record import hooks

        hooks.usage.scope_closed()
        from djperf.detect import registry

        rec.findings = registry.run(rec)

    async def __aenter__(self) -> Recording:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def _rule_ids(detectors: Iterable[str]) -> frozenset[str]:
    if isinstance(detectors, str):
        raise TypeError(f"detectors must be a list of rule ids, e.g. [{detectors!r}], not a string")
    from djperf.detect import registry

    selected = frozenset(detectors)
    unknown = sorted(selected - set(registry.rules()))
    if unknown:
        known = ", ".join(registry.rules()) or "none registered"
        raise ValueError(f"unknown rule id(s): {', '.join(unknown)}; known: {known}")
    return selected


def _checked_thresholds(
    thresholds: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    from djperf.detect import registry

    registry.check_settings()
    _rule_ids(thresholds)
    for rule, values in thresholds.items():
        registry.thresholds(rule, values)  # raises on an unknown threshold
    return {rule: dict(values) for rule, values in thresholds.items()}


_reported: set[str] = set()


def contain(where: str) -> None:
    """Log an error raised inside a djperf hook, once per hook, and carry on.

    Called from an ``except Exception`` block: djperf must never break the
    request or test it runs in, so the hook falls back to Django's own code.
    """
    if where in _reported:
        logger.debug("djperf: error in %s hook (repeated)", where, exc_info=True)
        return
    _reported.add(where)
    logger.error(
        "djperf: internal error in the %s hook; the event was not recorded. "
        "Please report it with this traceback.",
        where,
        exc_info=True,
    )
