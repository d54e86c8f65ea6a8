"""What the relation rules share about lazy loads: grouping them by problem,
and naming where their queryset came from.

A lazy load names its relation from the queryset a fix belongs to (its root
evaluation), so grouping by (root, lookup) gives one finding per problem,
however many instances it touched.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from djperf.detect._models import model_for_label, short
from djperf.findings import Location
from djperf.record.events import Evaluation, LazyLoad, Provenance


def relation_groups(loads: Iterable[LazyLoad]) -> dict[tuple[Any, ...], list[LazyLoad]]:
    """Loads of one relation from one queryset: (root, lookup), or for
    instances built outside the capture (no root) the model, field and line."""
    groups: dict[tuple[Any, ...], list[LazyLoad]] = defaultdict(list)
    for load in loads:
        root = load.source.root if load.source is not None else None
        if root is not None:
            # A refined manager (.filter() ...) needs its own Prefetch per line.
            refined_at = load.location if load.refined else None
            # Single rows fetched at one line (a get() in a loop) are one
            # queryset run many times: their loads are one problem.
            scope: object = id(root)
            if root.rows == 1 and root.location is not None:
                scope = (root.location, root.model)
            key: tuple[Any, ...] = (scope, load.lookup, refined_at)
        else:
            key = (None, load.model, load.field, load.location)
        groups[key].append(load)
    return groups


def distinct_instances(loads: list[LazyLoad]) -> int:
    """How many distinct instances the loads were for: loading one
    instance's relation twice is not loading it one instance at a time."""
    # A weakref to an object without a callback is shared: one per instance.
    return len({id(load._instance) if load._instance is not None else id(load) for load in loads})


def most_common(locations: Iterable[Location | None]) -> Location | None:
    counted = Counter(location for location in locations if location is not None)
    return counted.most_common(1)[0][0] if counted else None


def root_of(load: LazyLoad) -> Evaluation | None:
    """The evaluation of the queryset the loaded instance came from."""
    return load.source.root if load.source is not None else None


def built_at(root: Evaluation | None) -> Location | None:
    """Where the root queryset was built, when that is not where it was evaluated."""
    if root is not None and root.admin is not None:
        return root.admin  # a changelist's queryset: its ModelAdmin is where to fix it
    if root is None or root.built is None or root.built == root.location:
        return None
    return root.built


def queries_of(loads: list[LazyLoad]) -> int:
    return sum(len(load.queries) for load in loads)


def verbose(label: str) -> str:
    """A model's verbose name ("review"), to say "one review at a time"."""
    model = model_for_label(label)
    return str(model._meta.verbose_name) if model is not None else short(label).lower()


def verbose_plural(label: str, count: int) -> str:
    """ "reviews" for several, "review" for one."""
    model = model_for_label(label)
    if model is None:
        return short(label).lower() + ("" if count == 1 else "s")
    return str(model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural)


# Relations read through a related manager: a queryset the code evaluates.
MANAGER_KINDS = frozenset({"reverse_foreign_key", "many_to_many", "generic_relation"})


def fresh_queryset(source: Provenance | None) -> tuple[Evaluation, str] | None:
    """The nearest queryset on the way to an instance that ran a query of
    its own, a related manager the code refined (oscar's basket.all_lines():
    ``self.lines.select_related(...).order_by(...)``), past any prefetch
    step; and the lookup from that queryset's rows to the instance ("" for
    its own rows, "product" for a line's product it joined). A prefetch on
    any queryset further out is never read past it. None when no step on
    the way is such a manager."""
    path = source.path if source is not None else ""
    while source is not None:
        via = source.via
        if via is None:
            # A prefetch's rows: on to the instances it was made for.
            source = source.parent if source.how == "prefetch" else None
            continue
        if via.kind in MANAGER_KINDS and via.refined:
            base = via.lookup
            if source.evaluation is None or not (path == base or path.startswith(base + "__")):
                return None
            return source.evaluation, path[len(base) + 2 :]
        source = via.source
    return None


def loaded_by(source: Provenance | None) -> tuple[Evaluation, str] | None:
    """The queryset a fix for an instance goes on, and the lookup from its
    rows to the instance: the nearest refined related manager's (see
    `fresh_queryset`), else the root queryset's."""
    fresh = fresh_queryset(source)
    if fresh is not None:
        return fresh
    if source is None or source.root is None:
        return None
    return source.root, source.path
