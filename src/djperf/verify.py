"""``djperf.verify(func, findings)``: prove that the suggested fixes work.

verify runs ``func`` once as it is, then once per finding with that
finding's fix applied where the queryset is evaluated (its origin), then once
with every applicable fix together, each inside ``djperf.capture()``. It
reports queries and time before and after, and whether ``func`` returned the
same result::

    with djperf.capture() as rec:
        list_products()
    for trial in djperf.verify(list_products, rec.findings).trials:
        print(trial)   # catalogue.Product.brand: 201 -> 1 queries, 38 ms -> 4 ms, same result

Fixes that change the queryset (select_related, prefetch_related, only, defer)
are applied: while ``func`` runs, an evaluation at the finding's origin gets the
lookup added just before Django compiles it. Fixes that change the code
around it (bulk_update, get_many, a timeout...) are not: the trial says so
rather than guess. ``func`` must be repeatable: wrap work that writes in a
transaction that rolls back (the demo shop's scenarios do).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from djperf.detect.findings import Finding, Fix
from djperf.record.events import Location
from djperf.record.hooks._state import REWRITES
from djperf.record.recorder import capture

APPLICABLE = frozenset({"select_related", "prefetch_related", "only", "defer"})


@dataclass(frozen=True)
class Rewrite:
    """Add `fix` to every root queryset evaluated at `origin`."""

    origin: Location
    fix: Fix
    # The models of the querysets it was applied to.
    applied: list[str] = field(default_factory=list, compare=False)


def apply_rewrites(location: Location, queryset: Any) -> None:
    """Called by the ORM hook for each root evaluation (not a prefetch's, not
    a lazy load's: those run on the same user line) while verify runs a fix."""
    for rewrite in REWRITES.get():
        if rewrite.origin == location and _apply(rewrite.fix, queryset):
            rewrite.applied.append(queryset.model._meta.label)


def _apply(fix: Fix, queryset: Any) -> bool:
    from djperf.detect._models import resolve

    lookup = fix.lookup
    query = getattr(queryset, "query", None)
    if not lookup or query is None or not hasattr(query, "add_select_related"):
        return False
    # Only a lookup that exists on this queryset's model: the origin line may
    # evaluate another queryset too.
    hops = resolve(queryset.model, lookup)
    if fix.method in ("select_related", "prefetch_related") and any(
        hop.model is None and hop.select_name is None and hop.many for hop in hops
    ):
        return False
    if fix.method == "select_related":
        if query.select_related is not True:
            query.add_select_related([lookup])
        return True
    if fix.method == "prefetch_related":
        if lookup not in queryset._prefetch_related_lookups:
            queryset._prefetch_related_lookups = (*queryset._prefetch_related_lookups, lookup)
        return True
    names, defer = query.deferred_loading
    if fix.method == "only" and not defer:
        query.add_immediate_loading([*names, lookup])
        return True
    if fix.method == "defer" and defer:
        query.clear_deferred_loading()
        remaining = [name for name in names if name != lookup]
        if remaining:
            query.add_deferred_loading(remaining)
        return True
    return False


@dataclass(frozen=True)
class Run:
    queries: int
    seconds: float
    result: Any = field(repr=False)


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

    def __str__(self) -> str:
        if not self.applied or self.before is None or self.after is None:
            return f"{self.name}: not applied ({self.reason})"
        same = {True: "same result", False: "DIFFERENT result", None: "result not compared"}
        return (
            f"{self.name}: {self.before.queries} -> {self.after.queries} queries, "
            f"{_ms(self.before.seconds)} -> {_ms(self.after.seconds)}, "
            f"{same[self.same_result]}"
        )


@dataclass(frozen=True)
class Verification:
    before: Run
    trials: list[Trial]
    # Every applicable fix at once.
    combined: Trial | None

    def __iter__(self) -> Iterator[Trial]:
        return iter(self.trials)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def _name(finding: Finding) -> str:
    what = f"{finding.model}.{finding.field}" if finding.model and finding.field else finding.rule
    return f"{what} ({finding.rule})"


@contextmanager
def _rewriting(rewrites: tuple[Rewrite, ...]) -> Iterator[None]:
    token = REWRITES.set(rewrites)
    try:
        yield
    finally:
        REWRITES.reset(token)


def _run(func: Callable[[], Any], rewrites: tuple[Rewrite, ...] = ()) -> Run:
    with _rewriting(rewrites), capture(detectors=[]) as rec:
        started = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - started
    # Transaction statements (the savepoint of an atomic block) are not the work.
    queries = sum(1 for q in rec.queries if q.role != "bookkeeping")
    return Run(queries=queries, seconds=seconds, result=result)


def _same(before: Run, after: Run) -> bool | None:
    if before.result is None and after.result is None:
        return None
    try:
        return bool(before.result == after.result)
    except Exception:
        return None


def _applicable(finding: Finding) -> str | None:
    """Why the fix of `finding` cannot be applied automatically, or None."""
    if finding.fix is None:
        return "no fix to apply"
    if finding.fix.method not in APPLICABLE:
        return f"{finding.fix.method} changes the code around the query: apply it by hand"
    if finding.origin is None:
        return "the queryset was evaluated outside the captured code"
    if not finding.fix.lookup:
        return "no lookup to add"
    return None


def verify(func: Callable[[], Any], findings: Iterable[Finding]) -> Verification:
    """Run `func` before and after each finding's fix; see the module docstring."""
    before = _run(func)
    trials: list[Trial] = []
    rewrites: list[Rewrite] = []
    for finding in findings:
        name = _name(finding)
        reason = _applicable(finding)
        if reason is not None:
            trials.append(Trial(name, finding, applied=False, reason=reason))
            continue
        assert finding.fix is not None and finding.origin is not None
        rewrite = Rewrite(finding.origin, finding.fix)
        after = _run(func, (rewrite,))
        if not rewrite.applied:
            trials.append(
                Trial(
                    name,
                    finding,
                    applied=False,
                    reason=f"no queryset evaluated at {finding.origin} took {finding.fix.text}",
                )
            )
            continue
        rewrites.append(Rewrite(finding.origin, finding.fix))
        trials.append(
            Trial(name, finding, True, before=before, after=after, same_result=_same(before, after))
        )
    combined = None
    if len(rewrites) > 1:
        after = _run(func, tuple(rewrites))
        combined = Trial(
            "all fixes together",
            None,
            True,
            before=before,
            after=after,
            same_result=_same(before, after),
        )
    return Verification(before=before, trials=trials, combined=combined)
