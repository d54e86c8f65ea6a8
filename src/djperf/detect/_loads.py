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
from djperf.record.events import Evaluation, LazyLoad


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
