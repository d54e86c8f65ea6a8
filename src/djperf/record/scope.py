"""Capture scopes: the Recording each one fills, and which ones are open here.

The open scopes live in one ContextVar as a tuple (innermost last). A
ContextVar is per thread and per asyncio task, and asgiref's sync_to_async
copies it into the worker thread, so a scope sees exactly the work of the code
it wraps: queries of another thread or task never leak in, while the thread
hops that belong to it are included. Nested scopes each record everything that
happens inside them.

Every hook starts with ``scopes = active()`` and returns at once when the
tuple is empty: that is the whole cost of djperf installed but idle.
``djperf.capture()`` (in ``djperf._capture``) opens and closes scopes; this
floor records and never looks at findings.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from djperf.findings import EagerLoad, Finding
    from djperf.record.events import CacheCall, Evaluation, HttpCall, LazyLoad, Query


@dataclass(frozen=True, slots=True)
class Options:
    capture_params: bool = False
    stacks: bool = True
    # Detector ids to run when the scope exits; None runs all.
    detectors: frozenset[str] | None = None
    # Per-rule thresholds: {"n-plus-one": {"count": 3}}.
    thresholds: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Bytes of events a recording holds before it summarizes repeats (None: no cap).
    max_memory: int | None = 50 * 1024 * 1024


# What one kept event costs a recording, in bytes, with what it alone holds
# (its Locations and SQL text are shared with the events of the same line and
# statement). A query and an evaluation: measured by
# benchmarks/capture_memory.py (about 1.0-1.2 kB of resident memory per
# get()); the others estimated from their fields. An estimate that keeps the
# cap honest to within a few tens of percent, not an accounting.
EVENT_BYTES = {
    "queries": 520,
    "evaluations": 640,
    "lazy_loads": 900,
    "http_calls": 500,
    "cache_calls": 400,
}
# Events of one shape kept past the budget before the rest are only counted:
# more than any repetition rule's threshold, so a repeat past the budget is
# still seen.
EXEMPLARS = 20


@dataclass(slots=True, eq=False)
class Summary:
    """Events of one shape a recording only counted: it held its budget.

    ``exemplar`` is the first event of the shape kept past the budget (its
    line, its SQL); ``count`` and ``duration`` are those of the events not
    kept, which the rules never saw one by one.
    """

    kind: str  # "queries", "evaluations", "lazy_loads", "http_calls", "cache_calls"
    exemplar: Any
    kept: int = 0
    count: int = 0
    duration: float = 0.0

    @property
    def location(self) -> Any:
        return getattr(self.exemplar, "location", None)


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
        # Every select_related / prefetch_related site and whether it was
        # used: judged with the findings, when the scope exits.
        self.eager_loads: list[EagerLoad] = []
        self.duration = 0.0
        self.open = True
        self.started = 0.0
        # Past its budget, events of a shape already kept EXEMPLARS times are
        # counted here instead (see `keep`).
        self.summaries: dict[Hashable, Summary] = {}
        self.held = 0
        self._budget = options.max_memory

    @property
    def summarized(self) -> bool:
        """Whether some events were only counted (the recording held its budget)."""
        return any(summary.count for summary in self.summaries.values())

    def keep(self, kind: str, event: Any, shape: Any = None) -> None:
        """Add `event` to the list `kind` (``"queries"`` ...), or, once the
        recording holds its budget, count it in the summary of its shape
        (`shape`: a callable giving the event's shape key)."""
        held = self.held = self.held + EVENT_BYTES[kind]
        budget = self._budget
        if budget is None or held <= budget or shape is None:
            getattr(self, kind).append(event)
            return
        key = (kind, shape(event))
        summary = self.summaries.get(key)
        if summary is None:
            summary = self.summaries[key] = Summary(kind, event)
        if summary.kept < EXEMPLARS:
            summary.kept += 1
            getattr(self, kind).append(event)
            return
        summary.count += 1
        summary.duration += getattr(event, "duration", 0.0)
        if kind == "evaluations":
            # Its instances' uses count for the shape's kept evaluations.
            exemplar = summary.exemplar
            if type(exemplar.used) is not set:
                exemplar.used = set(exemplar.used)
            event.used = exemplar.used

    def __repr__(self) -> str:
        summarized = sum(summary.count for summary in self.summaries.values())
        return (
            f"<Recording {len(self.queries)} queries, {len(self.lazy_loads)} lazy loads, "
            f"{len(self.findings)} findings"
            + (f", {summarized} events summarized" if summarized else "")
            + ">"
        )


ACTIVE: ContextVar[tuple[Recording, ...]] = ContextVar("djperf_active_scopes", default=())


def active() -> tuple[Recording, ...]:
    """The open recordings of this thread or task, innermost last; () when idle.

    A task created inside a scope keeps the scope's context after the scope
    has exited; its events belong to no open recording, so they are dropped.
    The common cases cost one ContextVar read and one attribute test.
    """
    scopes = ACTIVE.get()
    if scopes and not scopes[-1].open:
        return live(scopes)
    return scopes


def live(scopes: tuple[Recording, ...]) -> tuple[Recording, ...]:
    """The open recordings of `scopes`."""
    return tuple(rec for rec in scopes if rec.open)


def stacks_wanted(scopes: tuple[Recording, ...]) -> bool:
    """Whether any of `scopes` wants the user line of its events."""
    if len(scopes) == 1:
        return scopes[0].options.stacks
    return any(rec.options.stacks for rec in scopes)


def open_scope(rec: Recording) -> None:
    """Make `rec` the innermost open scope of this thread or task."""
    ACTIVE.set((*ACTIVE.get(), rec))


def close_scope(rec: Recording) -> None:
    """Close `rec`: nothing is recorded into it from here on, in any context.

    This removes `rec` only, rather than ``ACTIVE.reset(token)``: that would
    raise when the scope exits in another task than it entered (an async
    fixture's teardown), and restore a stale tuple when scopes exit out of order.
    """
    rec.open = False
    ACTIVE.set(tuple(scope for scope in ACTIVE.get() if scope is not rec))


@contextmanager
def paused() -> Iterator[None]:
    """Record nothing of the block in the scopes open here (a new scope
    opened inside still records): the scaling assertion's populate() builds
    test data, which is not the work of the test around it."""
    token = ACTIVE.set(())
    try:
        yield
    finally:
        ACTIVE.reset(token)
