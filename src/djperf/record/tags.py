"""Tag model instances with their provenance, and read it back.

Every instance built under a capture gets one attribute, ``_djperf_source``,
with a plain attribute store: the cheapest thing CPython does per row.
A model that overrides ``__setattr__`` (dirty tracking, guards on private
names) must never run for djperf, so its instances are tagged on their
``_state`` instead, Django's per-instance bookkeeping object. Not always on
``_state``: on CPython 3.11 adding a key to each fresh ModelState costs about
as much as the rest of the capture together (measured: 1.09x against 1.03x on
the plain 400-row loop of benchmarks/capture_overhead.py). Copies share the
tag; pickling turns it into None.

A queryset's own fetch (``for``, ``list()``, ``len()``, a template) builds
every row before user code sees one, so its rows are built first and then
tagged in one plain loop over the list: no generator step per row. The rows
of ``iterator()`` reach user code one by one, so they go through a generator
that tags each as it goes by. Both are written for speed: locals only, no
calls in the common cases. Measured in docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP

from djperf.record.events import Evaluation, Provenance

TAG = "_djperf_source"
STATE_TAG = "djperf_source"

# One step of a select_related join: the parent's slot (0 is the row, step i
# fills slot i + 1), where the child is cached on the parent, the child's
# provenance, whether the child is a plain attribute (a FilteredRelation
# alias) rather than an entry of the parent's fields cache, and its model.
JoinStep = tuple[int, str, Provenance, bool, Any]
JoinPlan = tuple[JoinStep, ...]

# The plan of a bare select_related(): follow whatever relation Django cached.
ALL_JOINS: JoinPlan = ()


def provenance_of(instance: Any) -> Provenance | None:
    """Where `instance` came from, if it was built inside a capture."""
    # Read the instance's dict, never getattr(): a missing attribute would
    # run the model's own __getattr__, which may raise anything.
    try:
        attributes = object.__getattribute__(instance, "__dict__")
    except AttributeError:
        return None
    found: Provenance | None = attributes.get(TAG)
    if found is None:
        state = attributes.get("_state")
        if state is not None:
            found = getattr(state, "__dict__", {}).get(STATE_TAG)
    return found


def _guarded(model: Any) -> bool:
    """True when the model runs code of its own on attribute stores."""
    return model is not None and type.__getattribute__(model, "__setattr__") is not (
        object.__setattr__
    )


def join_plan(select: Any, model: Any, query: Any, provenance: Provenance) -> JoinPlan:
    """Query.select_related ({"book": {"publisher": {}}}) as join steps, depth first."""
    if select is True:
        return ALL_JOINS
    filtered = getattr(query, "_filtered_relations", None) or {}
    plan: list[JoinStep] = []

    def walk(tree: dict[str, Any], parent_slot: int, parent_model: Any, parent: Provenance) -> None:
        for name, deeper in tree.items():
            key, attribute, related_model = _resolve(parent_model, name, filtered)
            # Paths name relations as attribute access does: the accessor of
            # a reverse one-to-one (author.portrait), not select_related's
            # query name ("painted"). Django caches the child under the same.
            joined = parent.selected(key)
            plan.append((parent_slot, key, joined, attribute, related_model))
            if deeper:
                walk(deeper, len(plan), related_model, joined)

    walk(select, 0, model, provenance)
    return tuple(plan)


def _resolve(model: Any, name: str, filtered: dict[str, Any]) -> tuple[str, bool, Any]:
    """Where select_related(name) leaves the child on a `model` instance, and its model.

    select_related names a reverse one-to-one by its query name, while Django
    caches it under its accessor name: the field's cache_name tells.
    """
    if name in filtered:
        # A FilteredRelation alias: Django sets the child with setattr().
        return name, True, _model_at(model, filtered[name].relation_name)
    if model is None:
        return name, False, None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name, False, None
    return field.cache_name, False, field.related_model


def _model_at(model: Any, path: str) -> Any:
    for name in path.split(LOOKUP_SEP):
        if model is None:
            return None
        try:
            model = model._meta.get_field(name).related_model
        except FieldDoesNotExist:
            return None
    return model


def tag_all(
    rows: list[Any],
    evaluation: Evaluation,
    provenance: Provenance,
    plan: JoinPlan | None,
    model: Any,
) -> None:
    """Tag every row of a fetched list (with its joined instances)."""
    evaluation.rows = len(rows)
    if plan is None and not _guarded(model):
        for obj in rows:
            obj._djperf_source = provenance
    elif (
        plan
        and len(plan) == 1
        and not plan[0][3]
        and not _guarded(model)
        and not _guarded(plan[0][4])
    ):
        _, key, joined, _, _ = plan[0]
        brought = 0
        for obj in rows:
            obj._djperf_source = provenance
            child = obj._state.fields_cache.get(key)
            if child is not None:
                child._djperf_source = joined
                brought += 1
        evaluation.joined = {joined.path: brought}
    else:
        # The rarer shapes: the generators' own loops, run to the end.
        for _ in tagging(iter(rows), evaluation, provenance, plan, model):
            pass


def tagging(
    rows: Iterator[Any],
    evaluation: Evaluation,
    provenance: Provenance,
    plan: JoinPlan | None,
    model: Any,
) -> Iterator[Any]:
    """Rows of `evaluation`, each tagged (with its joined instances) as it goes by."""
    if _guarded(model) or (plan and any(_guarded(step[4]) for step in plan)):
        return _rows_on_state(rows, evaluation, provenance, plan)
    if plan is None:
        return _rows(rows, evaluation, provenance)
    if plan is ALL_JOINS:
        return _rows_and_cached_joins(rows, evaluation, provenance)
    if len(plan) == 1 and not plan[0][3]:
        return _rows_and_one_join(rows, evaluation, provenance, plan[0][1], plan[0][2])
    return _rows_and_joins(rows, evaluation, provenance, plan)


def _rows(
    rows: Iterator[Any],
    evaluation: Evaluation,
    provenance: Provenance,
) -> Iterator[Any]:
    count = 0
    try:
        for count, obj in enumerate(rows, 1):  # noqa: B007 - read in finally
            obj._djperf_source = provenance
            yield obj
    finally:
        evaluation.rows = count


def _rows_and_one_join(
    rows: Iterator[Any],
    evaluation: Evaluation,
    provenance: Provenance,
    key: str,
    joined: Provenance,
) -> Iterator[Any]:
    """Rows with one select_related relation, the most common case."""
    count = brought = 0
    try:
        for count, obj in enumerate(rows, 1):  # noqa: B007 - read in finally
            obj._djperf_source = provenance
            child = obj._state.fields_cache.get(key)
            if child is not None:
                child._djperf_source = joined
                brought += 1
            yield obj
    finally:
        evaluation.rows = count
        evaluation.joined = {joined.path: brought}


def _rows_and_joins(
    rows: Iterator[Any],
    evaluation: Evaluation,
    provenance: Provenance,
    plan: JoinPlan,
) -> Iterator[Any]:
    """Rows with several or nested select_related relations."""
    count = 0
    brought = [0] * len(plan)
    try:
        for count, obj in enumerate(rows, 1):  # noqa: B007 - read in finally
            obj._djperf_source = provenance
            nodes = [obj]
            for step, (parent_slot, key, joined, attribute, _) in enumerate(plan):
                parent = nodes[parent_slot]
                if parent is None:
                    child = None
                elif attribute:
                    child = parent.__dict__.get(key)
                else:
                    child = parent._state.fields_cache.get(key)
                nodes.append(child)
                if child is not None:
                    child._djperf_source = joined
                    brought[step] += 1
            yield obj
    finally:
        evaluation.rows = count
        evaluation.joined = _joined_rows(plan, brought)


def _rows_and_cached_joins(
    rows: Iterator[Any],
    evaluation: Evaluation,
    provenance: Provenance,
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


def _joined_rows(plan: JoinPlan, brought: list[int]) -> dict[str, int]:
    return {step[2].path: found for step, found in zip(plan, brought, strict=True)}


def _tag_cached_joins(obj: Any, provenance: Provenance, tag: Any = None) -> None:
    for name, child in obj._state.fields_cache.items():
        # Skip known related objects (the instance a related manager was called
        # on): their own evaluation tagged them.
        if child is not None and provenance_of(child) is None:
            joined = provenance.selected(name)
            (tag or _tag_instance)(child, joined)
            _tag_cached_joins(child, joined, tag)


def _tag_instance(obj: Any, provenance: Provenance) -> None:
    if _guarded(type(obj)):
        _tag_state(obj, provenance)
    else:
        obj._djperf_source = provenance


def _tag_state(obj: Any, provenance: Provenance) -> None:
    setattr(obj._state, STATE_TAG, provenance)


def _rows_on_state(
    rows: Iterator[Any],
    evaluation: Evaluation,
    provenance: Provenance,
    plan: JoinPlan | None,
) -> Iterator[Any]:
    """Any rows, tagged on their _state: for models with their own __setattr__."""
    count = 0
    brought = [0] * len(plan or ())
    try:
        for count, obj in enumerate(rows, 1):  # noqa: B007 - read in finally
            _tag_state(obj, provenance)
            if plan is ALL_JOINS:
                _tag_cached_joins(obj, provenance, _tag_state)
            elif plan:
                nodes = [obj]
                for step, (parent_slot, key, joined, attribute, _) in enumerate(plan):
                    parent = nodes[parent_slot]
                    if parent is None:
                        child = None
                    elif attribute:
                        child = parent.__dict__.get(key)
                    else:
                        child = parent._state.fields_cache.get(key)
                    nodes.append(child)
                    if child is not None:
                        _tag_state(child, joined)
                        brought[step] += 1
            yield obj
    finally:
        evaluation.rows = count
        if plan:
            evaluation.joined = _joined_rows(plan, brought)
