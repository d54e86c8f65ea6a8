"""Applying a fix to the querysets evaluated at its origin, while verify reruns the code.

verify hands a `Trying` (the rewrites of one run) to the ORM hook through
``djperf.record.rewrite.QUERYSET_REWRITE``; the hook calls it for every root
evaluation before Django compiles the query. Each change is made on a copy of
the Query and put back after the run, so a queryset that outlives the run (a
class attribute, a module global) is never left changed.

Only fixes that change a queryset are applied: select_related,
prefetch_related, only, and defer (loading a deferred field again or, for a
fix that omits its field, leaving a wide column out). The Fix says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models.constants import LOOKUP_SEP

from djperf.detect._models import bare_select_related_paths, covers, resolve
from djperf.findings import Fix, Location

APPLICABLE = frozenset({"select_related", "prefetch_related", "only", "defer"})


@dataclass(frozen=True)
class Rewrite:
    """Add `fix` to every root queryset evaluated at `origin`."""

    origin: Location
    fix: Fix
    # The models of the querysets it was applied to.
    applied: list[str] = field(default_factory=list, compare=False)
    # Why a queryset at the origin could not take it, when one could not.
    refused: list[str] = field(default_factory=list, compare=False)


@dataclass
class Trying:
    """The rewrites of one run of the user's code, and what to put back after it.

    Calling it is the ORM hook's QuerysetRewrite (djperf.record.rewrite).
    """

    rewrites: tuple[Rewrite, ...]
    # (queryset, its Query, its prefetch lookups) before the first change.
    changed: list[tuple[Any, Any, Any]] = field(default_factory=list)

    def __call__(self, location: Location, queryset: Any, *, chunked: bool) -> None:
        """Apply the rewrites whose origin is `location` to `queryset`.
        `chunked`: evaluated by iterator(), whose prefetch lookups Django has
        already read."""
        before = (queryset, queryset._query, queryset._prefetch_related_lookups)
        # Change a copy: the user's Query object is never touched.
        queryset._query = queryset._query.clone()
        changed = False
        for rewrite in self.rewrites:
            fix = rewrite.fix
            if rewrite.origin != location or not _applies(fix, queryset):
                continue
            if fix.model is not None and queryset.model._meta.label != fix.model:
                continue
            if chunked and fix.method == "prefetch_related":
                rewrite.refused.append(
                    "the queryset is read with iterator(), which takes its prefetch lookups "
                    "before djperf can add one: add the fix and measure it by hand"
                )
                continue
            if _apply(fix, queryset):
                changed = True
                rewrite.applied.append(queryset.model._meta.label)
        if changed:
            self.changed.append(before)
        else:
            queryset._query = before[1]

    def restore(self) -> None:
        for queryset, query, lookups in reversed(self.changed):
            queryset._query = query
            queryset._prefetch_related_lookups = lookups
        self.changed.clear()


def _applies(fix: Fix, queryset: Any) -> bool:
    """Whether `fix` names a lookup of this queryset's model: the origin line
    may evaluate another queryset too."""
    query = queryset.__dict__.get("_query")
    if not fix.lookup or query is None or not hasattr(query, "add_select_related"):
        return False
    hops = resolve(queryset.model, fix.lookup)
    return not (
        fix.method in ("select_related", "prefetch_related")
        and any(hop.model is None and hop.select_name is None and hop.many for hop in hops)
    )


def _apply(fix: Fix, queryset: Any) -> bool:
    """Change `queryset` as `fix` says; False when that changes nothing."""
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
    if fix.method == "defer" and fix.omits:
        # Leave a loaded column out (unused-column).
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
        # Load a deferred field again (deferred-field): drop it from defer().
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
