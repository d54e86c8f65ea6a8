"""Queryset evaluations, prefetches, and the provenance of every model instance.

Django builds model instances in ``ModelIterable.__iter__`` (and
``RawModelIterable.__iter__`` for raw querysets), for plain evaluation,
``iterator()`` and ``aiterator()`` alike; it offers no hook there, so this
module wraps it. While a capture is active each evaluation is recorded as an
`Evaluation`, and each instance it builds gets one attribute,
``_djperf_source``: a `Provenance` shared by all instances that came the same
way. That is how a later lazy load on ``review.book`` knows it is the
``book`` relation of the Review queryset evaluated at views.py:12.

Instances built by select_related are tagged as children of their parent
(path ``book``, ``book__publisher``). Instances fetched by prefetch_related are
tagged inside ``prefetch_one_level``, which runs one level of one lookup.

When no capture is active the wrappers cost one ContextVar lookup per
evaluation and per prefetch level; nothing happens per row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import query as query_module
from django.db.models.constants import LOOKUP_SEP
from django.db.models.query import ModelIterable, RawModelIterable

from djperf.record.events import Evaluation, LazyLoad, Provenance
from djperf.record.hooks import relations
from djperf.record.hooks._patch import Patches
from djperf.record.hooks._state import CURRENT_LOAD, CURRENT_PREFETCH, PrefetchStep
from djperf.record.recorder import ACTIVE, Recording, contain
from djperf.record.stack import user_location

# The attribute each instance built under a capture carries. The row loops
# below spell it out (obj._djperf_source = ...): a plain attribute store keeps
# CPython's inline instance values, where touching obj.__dict__ would build a
# dict per instance and slow every later attribute read (measured on 3.13).
TAG = "_djperf_source"

# Content types are looked up (and cached) by Django while it loads a generic
# relation; they are bookkeeping, never the objects a lazy load is about.
BOOKKEEPING_MODELS = frozenset({"contenttypes.ContentType"})

_patches = Patches()
_original_model_iter: Any = None
_original_raw_iter: Any = None
_original_prefetch_one_level: Any = None
_END = object()


def _model_iter(self: Any) -> Iterator[Any]:
    scopes = ACTIVE.get()
    if not scopes:
        return _original_model_iter(self)  # type: ignore[no-any-return]
    return _evaluate(scopes, self, _original_model_iter)


def _raw_iter(self: Any) -> Iterator[Any]:
    scopes = ACTIVE.get()
    if not scopes:
        return _original_raw_iter(self)  # type: ignore[no-any-return]
    return _evaluate(scopes, self, _original_raw_iter)


def _evaluate(scopes: tuple[Recording, ...], iterable: Any, original: Any) -> Iterator[Any]:
    try:
        evaluation, load, select = begin_evaluation(scopes, iterable.queryset)
    except Exception:
        contain("queryset evaluation")
        return original(iterable)  # type: ignore[no-any-return]
    rows = original(iterable)
    if load is not None:
        rows = _first_row_under(scopes, load, rows)
    provenance = evaluation.provenance
    if not select:
        return _tag_rows(rows, evaluation, provenance)
    if select is True:
        return _tag_rows_and_all_joins(rows, evaluation, provenance)
    plan = _join_plan(select, provenance)
    if len(plan) == 1:
        _, name, joined = plan[0]
        return _tag_rows_and_one_join(rows, evaluation, provenance, name, joined)
    if all(parent == 0 for parent, _, _ in plan):
        return _tag_rows_and_joins(rows, evaluation, provenance, plan)
    return _tag_rows_and_nested_joins(rows, evaluation, provenance, plan)


def begin_evaluation(
    scopes: tuple[Recording, ...], queryset: Any
) -> tuple[Evaluation, LazyLoad | None, Any]:
    """Record an evaluation of `queryset` and decide what its rows are tagged with.

    Returns the evaluation, the lazy load it performs when it is one (a
    related manager's queryset: its statements must be counted towards that
    load), and Query.select_related (False, True or the tree of joins).
    """
    label = queryset.model._meta.label
    # QuerySet keeps its Query in _query (the .query property may apply a
    # deferred filter); RawQuerySet has only .query.
    query = queryset.__dict__.get("_query") or queryset.query
    select = getattr(query, "select_related", False)
    stacks = any(rec.options.stacks for rec in scopes)
    location = user_location() if stacks else None
    evaluation = Evaluation(
        model=label,
        location=location,
        select_related=_select_related_paths(select),
        prefetch_related=_prefetch_paths(queryset._prefetch_related_lookups),
    )
    new_load: LazyLoad | None = None
    step = CURRENT_PREFETCH.get()
    load = CURRENT_LOAD.get()
    mark = query.__dict__.get(relations.MARK)
    if step is not None and label not in BOOKKEEPING_MODELS:
        parent = step.parent
        provenance = Provenance(
            root=parent.root if parent is not None else None,
            path=parent.joined(step.name) if parent is not None else step.name,
            how="prefetch",
            evaluation=evaluation,
            via=step.load,
        )
    elif mark is not None:
        new_load = load = relations.marked_load(scopes, mark, queryset, evaluation)
        provenance = loaded_provenance(load, evaluation)
    elif load is not None and load.evaluation is None and _loads_model(load, label):
        load.evaluation = evaluation
        load.related_model = label
        provenance = loaded_provenance(load, evaluation)
    else:
        provenance = Provenance(root=evaluation, path="", how="row", evaluation=evaluation)
    evaluation.provenance = provenance
    for rec in scopes:
        if rec.open:
            rec.evaluations.append(evaluation)
    return evaluation, new_load, select


def _loads_model(load: LazyLoad, label: str) -> bool:
    if load.related_model is not None:
        return load.related_model == label
    # A generic foreign key learns its target model from the first evaluation.
    return label not in BOOKKEEPING_MODELS


def loaded_provenance(load: LazyLoad, evaluation: Evaluation) -> Provenance:
    """The provenance of instances fetched by `load`: one step further from its root."""
    source = load.source
    return Provenance(
        root=source.root if source is not None else None,
        path=source.joined(load.field) if source is not None else load.field,
        how="lazy_load",
        evaluation=evaluation,
        via=load,
    )


# The row generators below run once per row: they are written for speed
# (locals only, no calls in the common case) and count rows in a local that is
# stored when the evaluation is consumed or dropped.


def _first_row_under(
    scopes: tuple[Recording, ...], load: LazyLoad, rows: Iterator[Any]
) -> Iterator[Any]:
    """Pull the first row with `load` current: that is when the statement runs."""
    token = CURRENT_LOAD.set(load)
    try:
        first = next(rows, _END)
    finally:
        CURRENT_LOAD.reset(token)
        if load.queries:
            relations.record(scopes, load)
    if first is not _END:
        yield first
        yield from rows


def _tag_rows(rows: Iterator[Any], evaluation: Evaluation, provenance: Provenance) -> Iterator[Any]:
    count = 0
    try:
        for count, obj in enumerate(rows, 1):  # noqa: B007 - read in finally
            obj._djperf_source = provenance
            yield obj
    finally:
        evaluation.rows = count


def _tag_rows_and_one_join(
    rows: Iterator[Any],
    evaluation: Evaluation,
    provenance: Provenance,
    name: str,
    joined: Provenance,
) -> Iterator[Any]:
    """Rows with one select_related relation, the most common case."""
    count = 0
    try:
        for count, obj in enumerate(rows, 1):  # noqa: B007 - read in finally
            obj._djperf_source = provenance
            child = obj._state.fields_cache.get(name)
            if child is not None:
                child._djperf_source = joined
            yield obj
    finally:
        evaluation.rows = count


def _tag_rows_and_joins(
    rows: Iterator[Any],
    evaluation: Evaluation,
    provenance: Provenance,
    plan: tuple[tuple[int, str, Provenance], ...],
) -> Iterator[Any]:
    """Rows with select_related one level deep: select_related("author", "publisher")."""
    count = 0
    try:
        for count, obj in enumerate(rows, 1):  # noqa: B007 - read in finally
            obj._djperf_source = provenance
            cache = obj._state.fields_cache
            for _, name, joined in plan:
                child = cache.get(name)
                if child is not None:
                    child._djperf_source = joined
            yield obj
    finally:
        evaluation.rows = count


def _tag_rows_and_nested_joins(
    rows: Iterator[Any],
    evaluation: Evaluation,
    provenance: Provenance,
    plan: tuple[tuple[int, str, Provenance], ...],
) -> Iterator[Any]:
    """Rows with nested select_related: select_related("book__publisher")."""
    count = 0
    try:
        for count, obj in enumerate(rows, 1):  # noqa: B007 - read in finally
            obj._djperf_source = provenance
            nodes = [obj]
            for parent_slot, name, joined in plan:
                parent = nodes[parent_slot]
                child = None if parent is None else parent._state.fields_cache.get(name)
                nodes.append(child)
                if child is not None:
                    child._djperf_source = joined
            yield obj
    finally:
        evaluation.rows = count


def _tag_rows_and_all_joins(
    rows: Iterator[Any], evaluation: Evaluation, provenance: Provenance
) -> Iterator[Any]:
    """Rows of a bare select_related(): follow whatever relation Django cached."""
    count = 0
    try:
        for count, obj in enumerate(rows, 1):  # noqa: B007 - read in finally
            obj._djperf_source = provenance
            _tag_cached_joins(obj, provenance)
            yield obj
    finally:
        evaluation.rows = count


def _tag_cached_joins(obj: Any, provenance: Provenance) -> None:
    for name, child in obj._state.fields_cache.items():
        # Skip known related objects (the instance a related manager was called
        # on): they were tagged by their own evaluation.
        if child is not None and getattr(child, TAG, None) is None:
            joined = provenance.selected(name)
            child._djperf_source = joined
            _tag_cached_joins(child, joined)


def _join_plan(
    select: dict[str, Any], provenance: Provenance
) -> tuple[tuple[int, str, Provenance], ...]:
    """Query.select_related as steps (parent slot, relation, provenance), depth first.

    Slot 0 is the row; step i fills slot i + 1.
    """
    plan: list[tuple[int, str, Provenance]] = []

    def walk(tree: dict[str, Any], parent_slot: int, parent: Provenance) -> None:
        for name, deeper in tree.items():
            joined = parent.selected(name)
            plan.append((parent_slot, name, joined))
            if deeper:
                walk(deeper, len(plan), joined)

    walk(select, 0, provenance)
    return tuple(plan)


def _select_related_paths(select: Any) -> tuple[str, ...]:
    if select is True:
        return ("*",)
    if not select:
        return ()
    paths: list[str] = []

    def walk(tree: dict[str, Any], prefix: str) -> None:
        for name, sub in tree.items():
            if sub:
                walk(sub, f"{prefix}{name}{LOOKUP_SEP}")
            else:
                paths.append(prefix + name)

    walk(select, "")
    return tuple(paths)


def _prefetch_paths(lookups: Any) -> tuple[str, ...]:
    return tuple(
        lookup if isinstance(lookup, str) else str(lookup.prefetch_through)
        for lookup in lookups or ()
    )


def _prefetch_one_level(instances: Any, prefetcher: Any, lookup: Any, level: int) -> Any:
    scopes = ACTIVE.get()
    if not scopes or not instances:
        return _original_prefetch_one_level(instances, prefetcher, lookup, level)
    try:
        name = lookup.prefetch_through.split(LOOKUP_SEP)[level]
        step = PrefetchStep(
            parent=getattr(instances[0], TAG, None), name=name, load=CURRENT_LOAD.get()
        )
    except Exception:
        contain("prefetch_related")
        return _original_prefetch_one_level(instances, prefetcher, lookup, level)
    token = CURRENT_PREFETCH.set(step)
    try:
        return _original_prefetch_one_level(instances, prefetcher, lookup, level)
    finally:
        CURRENT_PREFETCH.reset(token)


def install() -> None:
    global _original_model_iter, _original_raw_iter, _original_prefetch_one_level
    if _patches:
        return
    _original_model_iter = _patches.wrap(ModelIterable, "__iter__", lambda _: _model_iter)
    _original_raw_iter = _patches.wrap(RawModelIterable, "__iter__", lambda _: _raw_iter)
    _original_prefetch_one_level = _patches.wrap(
        query_module, "prefetch_one_level", lambda _: _prefetch_one_level
    )


def uninstall() -> None:
    _patches.undo()
