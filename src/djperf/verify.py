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

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db.models.constants import LOOKUP_SEP
from django.template.response import SimpleTemplateResponse

from djperf.detect._models import bare_select_related_paths, covers
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
    # unused-column: its "defer" leaves a loaded column out, and only querysets
    # of that model take it (deferred-field's "defer" stops deferring one).
    leaves_out: str | None = None
    # The models of the querysets it was applied to.
    applied: list[str] = field(default_factory=list, compare=False)
    # Why a queryset at the origin could not take it, when one could not.
    refused: list[str] = field(default_factory=list, compare=False)


@dataclass
class _Trying:
    """The rewrites of one run of `func`, and what to put back after it."""

    rewrites: tuple[Rewrite, ...]
    # (queryset, its Query, its prefetch lookups) before the first change:
    # put back after the run, so a queryset that outlives `func` (a class
    # attribute, a module global) is not left changed.
    changed: list[tuple[Any, Any, Any]] = field(default_factory=list)

    def restore(self) -> None:
        for queryset, query, lookups in reversed(self.changed):
            queryset._query = query
            queryset._prefetch_related_lookups = lookups
        self.changed.clear()


def apply_rewrites(location: Location, queryset: Any, *, chunked: bool = False) -> None:
    """Called by the ORM hook for each root evaluation (not a prefetch's, not
    a lazy load's: those run on the same user line) while verify runs a fix.
    `chunked`: evaluated by iterator(), whose prefetch lookups Django has
    already read."""
    trying = REWRITES.get()
    if not isinstance(trying, _Trying):
        return
    before = (queryset, queryset._query, queryset._prefetch_related_lookups)
    # Change a copy: the user's Query object is never touched.
    queryset._query = queryset._query.clone()
    changed = False
    for rewrite in trying.rewrites:
        if rewrite.origin != location or not _applies(rewrite.fix, queryset):
            continue
        if rewrite.leaves_out is not None and queryset.model._meta.label != rewrite.leaves_out:
            continue
        if chunked and rewrite.fix.method == "prefetch_related":
            rewrite.refused.append(
                "the queryset is read with iterator(), which takes its prefetch lookups "
                "before djperf can add one: add the fix and measure it by hand"
            )
            continue
        if _apply(rewrite.fix, queryset, leaving_out=rewrite.leaves_out is not None):
            changed = True
            rewrite.applied.append(queryset.model._meta.label)
    if changed:
        trying.changed.append(before)
    else:
        queryset._query = before[1]


def _applies(fix: Fix, queryset: Any) -> bool:
    """Whether `fix` names a lookup of this queryset's model: the origin line
    may evaluate another queryset too."""
    from djperf.detect._models import resolve

    query = queryset.__dict__.get("_query")
    if not fix.lookup or query is None or not hasattr(query, "add_select_related"):
        return False
    hops = resolve(queryset.model, fix.lookup)
    return not (
        fix.method in ("select_related", "prefetch_related")
        and any(hop.model is None and hop.select_name is None and hop.many for hop in hops)
    )


def _apply(fix: Fix, queryset: Any, *, leaving_out: bool = False) -> bool:
    """Change `queryset` as `fix` says; False when that changes nothing.

    `leaving_out`: a "defer" fix leaves its field out of the query
    (unused-column) instead of loading it again (deferred-field)."""
    lookup = fix.lookup
    assert lookup is not None
    query = queryset._query
    names, defer = query.deferred_loading
    if fix.method == "select_related":
        if lookup in _joined(query.select_related):
            return False
        if query.select_related is True:
            # Naming a relation replaces a bare select_related(): keep its joins.
            query.select_related = False
            query.add_select_related(bare_select_related_paths(queryset.model))
        # only()/defer() must load the first field of the join, or Django
        # refuses to join it ("cannot be both deferred and traversed").
        first = lookup.split(LOOKUP_SEP, 1)[0]
        if names and not defer and not covers(names, first):
            query.add_immediate_loading([*names, first])
        elif names and defer and first in names:
            _defer_only(query, [name for name in names if name != first])
        query.add_select_related([lookup])
        return True
    if fix.method == "prefetch_related":
        if lookup in queryset._prefetch_related_lookups:
            return False
        queryset._prefetch_related_lookups = (*queryset._prefetch_related_lookups, lookup)
        return True
    if fix.method == "only" and names and not defer and lookup not in names:
        query.add_immediate_loading([*names, lookup])
        return True
    if fix.method == "defer" and leaving_out:
        if getattr(query, "combinator", None):
            return False  # union() and the like take no defer()
        if (defer or not names) and lookup not in names:
            query.add_deferred_loading([lookup])
            return True
        if not defer and lookup in names:  # only(..., lookup): drop it from the list
            query.clear_deferred_loading()
            query.add_immediate_loading([name for name in names if name != lookup] or ["pk"])
            return True
        return False
    if fix.method == "defer" and defer and lookup in names:
        _defer_only(query, [name for name in names if name != lookup])
        return True
    return False


def _defer_only(query: Any, names: list[str]) -> None:
    query.clear_deferred_loading()
    if names:
        query.add_deferred_loading(names)


def _joined(select: Any) -> set[str]:
    """The lookups a select_related tree already joins, at every depth."""
    paths: set[str] = set()

    def walk(tree: dict[str, Any], prefix: str) -> None:
        for name, sub in tree.items():
            paths.add(prefix + name)
            walk(sub, f"{prefix}{name}{LOOKUP_SEP}")

    if isinstance(select, dict):
        walk(select, "")
    return paths


@dataclass(frozen=True)
class Run:
    queries: int
    seconds: float
    result: Any = field(repr=False)
    # Wide text, binary and JSON values loaded: (model, field) -> about how
    # many characters or bytes (what an unused-column fix saves).
    loaded: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)


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
        """Fewer queries, or (same queries) fewer wide values loaded or less
        time: the fix did something."""
        if not self.applied or self.before is None or self.after is None:
            return False
        if self.after.queries != self.before.queries:
            return self.after.queries < self.before.queries
        before, after = sum(self.before.loaded.values()), sum(self.after.loaded.values())
        if before != after:
            return after < before
        return self.after.seconds < self.before.seconds

    def __str__(self) -> str:
        if not self.applied or self.before is None or self.after is None:
            return f"{self.name}: not applied ({self.reason})"
        same = {True: "same result", False: "DIFFERENT result", None: "result not compared"}
        text = (
            f"{self.name}: {self.before.queries} -> {self.after.queries} queries, "
            f"{_ms(self.before.seconds)} -> {_ms(self.after.seconds)}, "
            f"{same[self.same_result]}"
        )
        # An unused column's fix saves bytes and time, never a query.
        finding = self.finding
        saves_queries = finding is None or finding.rule != "unused-column"
        if finding is not None and not saves_queries and finding.model and finding.field:
            key = (finding.model, finding.field)
            text += (
                f", {finding.field} {_kb(self.before.loaded.get(key, 0))} -> "
                f"{_kb(self.after.loaded.get(key, 0))}"
            )
        if self.after.queries > self.before.queries:
            text += ", MORE queries"
        elif saves_queries and self.after.queries == self.before.queries:
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


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def _name(finding: Finding) -> str:
    what = f"{finding.model}.{finding.field}" if finding.model and finding.field else finding.rule
    return f"{what} ({finding.rule})"


@contextmanager
def _rewriting(rewrites: tuple[Rewrite, ...]) -> Iterator[None]:
    trying = _Trying(rewrites)
    token = REWRITES.set(trying if rewrites else None)
    try:
        yield
    finally:
        REWRITES.reset(token)
        trying.restore()


def _run(func: Callable[[], Any], rewrites: tuple[Rewrite, ...] = ()) -> Run:
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
        for name, size in (evaluation.wide_columns or {}).items():
            key = (evaluation.model, name)
            loaded[key] = loaded.get(key, 0) + size * evaluation.rows
    return Run(queries=queries, seconds=seconds, result=result, loaded=loaded)


def _same(before: Run, after: Run) -> bool | None:
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


def _comparable(value: Any) -> Any:
    """An HTTP response compares by status and body; anything else as itself."""
    from django.http import HttpResponse, HttpResponseBase

    if isinstance(value, HttpResponse):
        # A CSRF token is masked afresh on every render: not a difference.
        return (value.status_code, _CSRF_TOKEN.sub(b"", bytes(value.content)))
    if isinstance(value, HttpResponseBase):  # streamed: reading it would consume it
        return _NOT_COMPARABLE
    return value


def _kb(size: int) -> str:
    return f"{size / 1000:.0f} kB" if size else "0 kB"


_CSRF_TOKEN = re.compile(rb'(?<=name="csrfmiddlewaretoken" value=")[^"]*')


class _NotComparable:
    """Compared by identity, so never equal to another run's."""


_NOT_COMPARABLE = _NotComparable()


def _identity_only(value: Any) -> bool:
    """Whether == on `value` (or on an item of a list of them) only asks
    "the same object?": two runs never return the same objects."""
    items = value if isinstance(value, (list, tuple)) else (value,)
    return any(_compares_identity(item) for item in items)


def _compares_identity(value: Any) -> bool:
    equality: Any = type(value).__eq__
    return value is not None and equality is object.__eq__


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
    """Run `func` before and after each finding's fix; see the module docstring.

    An exception from `func` as it is propagates: there is nothing to compare.
    An exception from `func` with a fix applied is reported on that trial.
    """
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
        rewrite = _rewrite(finding)
        try:
            after = _run(func, (rewrite,))
        except Exception as error:
            reason = f"with the fix, {_callable_name(func)} raised {type(error).__name__}: {error}"
            trials.append(Trial(name, finding, applied=False, reason=reason))
            continue
        if not rewrite.applied:
            reason = (
                rewrite.refused[0]
                if rewrite.refused
                else (
                    f"no queryset evaluated at {finding.origin} could take {finding.fix.text}"
                    " (already there, or another model)"
                )
            )
            trials.append(Trial(name, finding, applied=False, reason=reason))
            continue
        rewrites.append(_rewrite(finding))
        trials.append(
            Trial(name, finding, True, before=before, after=after, same_result=_same(before, after))
        )
    return Verification(before=before, trials=trials, combined=_combined(func, before, rewrites))


def _rewrite(finding: Finding) -> Rewrite:
    assert finding.fix is not None and finding.origin is not None
    leaves_out = finding.model if finding.rule == "unused-column" else None
    return Rewrite(finding.origin, finding.fix, leaves_out=leaves_out)


def _combined(func: Callable[[], Any], before: Run, rewrites: list[Rewrite]) -> Trial | None:
    if len(rewrites) < 2:
        return None
    name = "all fixes together"
    try:
        after = _run(func, tuple(rewrites))
    except Exception as error:
        reason = f"{_callable_name(func)} raised {type(error).__name__}: {error}"
        return Trial(name, None, applied=False, reason=reason)
    return Trial(name, None, True, before=before, after=after, same_result=_same(before, after))


def _callable_name(func: Callable[[], Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)
