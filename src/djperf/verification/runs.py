"""One run of the user's code under capture, and what a fix's trial reports."""

from __future__ import annotations

import dataclasses
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.template.response import SimpleTemplateResponse

from djperf._capture import capture
from djperf._format import duration, size
from djperf.findings import Finding
from djperf.record.rewrite import QUERYSET_REWRITE
from djperf.verification.rewrites import Rewrite, Trying

# Fewer timed runs than this give no verdict on time.
TIMED_RUNS_NEEDED = 3


@dataclass(frozen=True)
class Run:
    """One variant of the code (as it is, or with fixes), run one or more times.

    Queries, loaded columns and the result come from its first run; `times`
    holds every run's duration and `seconds` their median.
    """

    queries: int
    seconds: float
    result: Any = field(repr=False)
    # Wide text, binary and JSON values loaded: (model, field) -> about how
    # many characters or bytes (what a fix that omits a column saves).
    loaded: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    times: tuple[float, ...] = ()

    def timed(self, seconds: float) -> Run:
        """This run with one more timing."""
        times = (*(self.times or (self.seconds,)), seconds)
        return dataclasses.replace(self, times=times, seconds=statistics.median(times))


def faster(before: Run, after: Run) -> bool | None:
    """True when `after` is faster than `before` beyond the noise of their
    runs, False when slower, None when their timings overlap (or too few
    runs to tell): every run of one is quicker than every run of the other,
    or no verdict. Single timings never decide."""
    first, second = before.times or (before.seconds,), after.times or (after.seconds,)
    if min(len(first), len(second)) < TIMED_RUNS_NEEDED:
        return None
    if max(second) < min(first):
        return True
    if max(first) < min(second):
        return False
    return None


@dataclass(frozen=True)
class Trial:
    """One fix, tried: its numbers before and after, or why it was not tried."""

    name: str
    finding: Finding | None
    applied: bool
    reason: str | None = None
    before: Run | None = None
    after: Run | None = None
    same_result: bool | None = None

    @property
    def improved(self) -> bool:
        """Fewer queries, or (same queries) fewer wide values loaded, or
        (same both) faster beyond the noise of several runs: the fix did
        something."""
        if not self.applied or self.before is None or self.after is None:
            return False
        if self.after.queries != self.before.queries:
            return self.after.queries < self.before.queries
        before, after = sum(self.before.loaded.values()), sum(self.after.loaded.values())
        if before != after:
            return after < before
        return faster(self.before, self.after) is True

    def __str__(self) -> str:
        if not self.applied or self.before is None or self.after is None:
            return f"{self.name}: not applied ({self.reason})"
        same = {True: "same result", False: "DIFFERENT result", None: "result not compared"}
        text = (
            f"{self.name}: {self.before.queries} -> {self.after.queries} queries, "
            f"{_timing(self.before, self.after)}, {same[self.same_result]}"
        )
        fix = self.finding.fix if self.finding is not None else None
        # A fix that leaves a column out saves bytes and time, never a query.
        omits = fix is not None and fix.omits
        if fix is not None and omits and fix.model and fix.lookup:
            key = (fix.model, fix.lookup)
            text += (
                f", {fix.lookup} {size(self.before.loaded.get(key, 0))} -> "
                f"{size(self.after.loaded.get(key, 0))}"
            )
        if self.after.queries > self.before.queries:
            text += ", MORE queries"
        elif not omits and self.after.queries == self.before.queries:
            text += ", no fewer queries"
        return text


@dataclass(frozen=True)
class Verification:
    before: Run
    trials: list[Trial]
    # Every applicable fix at once.
    combined: Trial | None

    def __iter__(self) -> Iterator[Trial]:
        return iter(self.trials)


def _timing(before: Run, after: Run) -> str:
    """ "148 ms -> 64.5 ms" when the difference is beyond the noise of the
    runs, "same time (148 ms -> 151 ms)" inside it; medians of `runs` runs."""
    medians = f"{duration(before.seconds)} -> {duration(after.seconds)}"
    runs = min(len(before.times or (0,)), len(after.times or (0,)))
    of = f", median of {runs} runs" if runs > 1 else ""
    if faster(before, after) is None:
        return f"same time ({medians}{of})"
    return f"{medians}{f' ({of[2:]})' if of else ''}"


@contextmanager
def _rewriting(rewrites: tuple[Rewrite, ...]) -> Iterator[None]:
    trying = Trying(rewrites)
    token = QUERYSET_REWRITE.set(trying if rewrites else None)
    try:
        yield
    finally:
        QUERYSET_REWRITE.reset(token)
        trying.restore()


def run(func: Callable[[], Any], rewrites: tuple[Rewrite, ...] = ()) -> Run:
    """Run `func` once under capture, with `rewrites` applied to its querysets."""
    with _rewriting(rewrites), capture(detectors=[]) as rec:
        started = time.perf_counter()
        result = func()
        # A TemplateResponse renders later, outside `func`: its template's
        # queries are part of the work.
        if isinstance(result, SimpleTemplateResponse) and not result.is_rendered:
            result.render()
        seconds = time.perf_counter() - started
    # Transaction statements (the savepoint of an atomic block) are not the work.
    queries = sum(1 for q in rec.queries if q.role != "bookkeeping")
    loaded: dict[tuple[str, str], int] = {}
    for evaluation in rec.evaluations:
        for name, length in (evaluation.wide_columns or {}).items():
            key = (evaluation.model, name)
            loaded[key] = loaded.get(key, 0) + length * evaluation.rows
    return Run(queries=queries, seconds=seconds, result=result, loaded=loaded, times=(seconds,))


def same_result(before: Run, after: Run) -> bool | None:
    """Whether both runs returned equal results; None when equality says
    nothing (no result, or objects compared by identity only)."""
    first, second = _comparable(before.result), _comparable(after.result)
    if first is None and second is None:
        return None
    if _identity_only(first) or _identity_only(second):
        return None
    try:
        return bool(first == second)
    except Exception:
        return None


_CSRF_TOKEN = re.compile(rb'(?<=name="csrfmiddlewaretoken" value=")[^"]*')


class _NotComparable:
    """Compared by identity, so never equal to another run's."""


_NOT_COMPARABLE = _NotComparable()


def _comparable(value: Any) -> Any:
    """An HTTP response compares by status and body; anything else as itself."""
    from django.http import HttpResponse, HttpResponseBase

    if isinstance(value, HttpResponse):
        # A CSRF token is masked afresh on every render: not a difference.
        return (value.status_code, _CSRF_TOKEN.sub(b"", bytes(value.content)))
    if isinstance(value, HttpResponseBase):  # streamed: reading it would consume it
        return _NOT_COMPARABLE
    return value


def _identity_only(value: Any) -> bool:
    """Whether == on `value` (or on an item of a list of them) only asks
    "the same object?": two runs never return the same objects."""
    items = value if isinstance(value, (list, tuple)) else (value,)
    return any(_compares_identity(item) for item in items)


def _compares_identity(value: Any) -> bool:
    equality: Any = type(value).__eq__
    return value is not None and equality is object.__eq__
