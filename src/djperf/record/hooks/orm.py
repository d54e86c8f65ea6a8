"""Queryset evaluations, prefetches, and the provenance of every model instance.

Django builds model instances in ``ModelIterable.__iter__`` (and
``RawModelIterable.__iter__`` for raw querysets), for plain evaluation,
``iterator()`` and ``aiterator()`` alike; it offers no hook there, so this
module wraps it. While a capture is active each evaluation is recorded as an
`Evaluation`, and each instance it builds is tagged with a `Provenance`
shared by all instances that came the same way (see `tags.py`). That is how
a later lazy load on ``review.book`` knows it is the ``book`` relation of the
Review queryset evaluated at views.py:12.

Instances fetched by prefetch_related are tagged inside ``prefetch_one_level``,
which runs one level of one lookup.

When no capture is active the wrappers cost one ContextVar lookup per
evaluation and per prefetch level; nothing happens per row.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from django.db.models import query as query_module
from django.db.models.constants import LOOKUP_SEP
from django.db.models.query import ModelIterable, QuerySet, RawModelIterable
from django.db.models.signals import post_init

from djperf._errors import contain
from djperf.record import tags
from djperf.record.events import Evaluation, LazyLoad, Provenance, evaluation_shape
from djperf.record.hooks import admin, built, columns, relations, usage
from djperf.record.hooks._patch import Patches
from djperf.record.hooks._state import (
    CURRENT_LOAD,
    CURRENT_PREFETCH,
    EVALUATION_SITE,
    PREFETCHING_IDLE,
    WRITING,
    PrefetchStep,
)
from djperf.record.rewrite import QUERYSET_REWRITE
from djperf.record.scope import Recording, active, stacks_wanted
from djperf.record.stack import Site, is_user_file, locate, user_location
from djperf.record.work import REQUEST

# Content types are looked up (and cached) by Django while it loads a generic
# relation; they are bookkeeping, never the objects a lazy load is about.
BOOKKEEPING_MODELS = frozenset({"contenttypes.ContentType"})

_patches = Patches()
_original_model_iter: Any = None
_original_raw_iter: Any = None
_original_prefetch_one_level: Any = None
# A queryset's own fetch: it builds every row before user code sees one.
_FETCH_ALL = QuerySet._fetch_all.__code__


def _model_iter(self: Any) -> Iterator[Any]:
    scopes = active()
    if scopes:
        return _evaluate(scopes, self, _original_model_iter)
    return _original_model_iter(self)  # type: ignore[no-any-return]


def _raw_iter(self: Any) -> Iterator[Any]:
    scopes = active()
    if scopes:
        return _evaluate(scopes, self, _original_raw_iter)
    return _original_raw_iter(self)  # type: ignore[no-any-return]


def _evaluate(scopes: tuple[Recording, ...], iterable: Any, original: Any) -> Iterator[Any]:
    try:
        # Called by QuerySet._fetch_all (through _model_iter): every row is
        # built before user code sees one. sys._getframe raises when no
        # Python frame is that far up: then it is not.
        try:
            whole = sys._getframe(2).f_code is _FETCH_ALL
        except ValueError:
            whole = False
        evaluation, provenance, load, plan, site = begin_evaluation(
            scopes,
            iterable.queryset,
            chunked=getattr(iterable, "chunked_fetch", False),
            whole=whole,
        )
    except Exception:
        contain("queryset evaluation")
        return original(iterable)  # type: ignore[no-any-return]
    rows = original(iterable)
    if load is not None:
        rows = _first_row_under(scopes, load, rows)
    model = iterable.queryset.model
    wide: tuple[tuple[str, str], ...] = ()
    # Only a queryset's own rows (not a lazy load's, a prefetch's or a related
    # manager's, even from an untagged instance) can be deferred where built.
    if provenance.how == "row" and provenance.root is evaluation and not evaluation.internal:
        try:
            wide = _wide_columns(iterable)
        except Exception:
            contain("wide columns")
    if not whole:
        if wide:
            rows = columns.streaming(rows, evaluation, wide)
        if plan is not None:
            _expect_joins(plan, provenance, built=False)
        return tags.tagging(rows, evaluation, provenance, plan, model)
    # A list: build it (the database's errors propagate), then tag it in one
    # pass. Its statement runs in there, and shares the evaluation's walk.
    sharing = EVALUATION_SITE.set((sys._getframe(0), site)) if site is not None else None
    try:
        fetched = list(rows)
    finally:
        if sharing is not None:
            EVALUATION_SITE.reset(sharing)
    try:
        tags.tag_all(fetched, evaluation, provenance, plan, model)
        if wide and fetched:
            columns.judge_last_row(fetched[-1], evaluation, wide)
        if plan is not None and fetched:
            _expect_joins(plan, provenance, built=True)
    except Exception:
        contain("queryset evaluation")
    return iter(fetched)


def _expect_joins(plan: tags.JoinPlan, provenance: Provenance, *, built: bool) -> None:
    try:
        usage.expect_joins(plan, provenance, built=built)
    except Exception:
        contain("relation use")


def _wide_columns(iterable: Any) -> tuple[tuple[str, str], ...]:
    """The wide fields unused-column judges on this root evaluation's rows
    (none for a raw or combined queryset: no defer() to suggest)."""
    if not isinstance(iterable, ModelIterable):
        return ()
    queryset = iterable.queryset
    query = queryset.__dict__.get("_query") or queryset.query
    wide = columns.wide_fields(queryset.model)
    if not wide or getattr(query, "combinator", None) or post_init.has_listeners(queryset.model):
        return ()
    return wide


def begin_evaluation(
    scopes: tuple[Recording, ...], queryset: Any, *, chunked: bool = False, whole: bool = False
) -> tuple[Evaluation, Provenance, LazyLoad | None, tags.JoinPlan | None, Site | None]:
    """Record an evaluation of `queryset` and decide what its rows are tagged with.

    Returns the evaluation, the provenance of its rows, the lazy load it
    performs when it is one (a related manager's queryset: its statement must
    be counted towards that load), how to tag the instances it joins, and
    the walk to its user line when it made the whole walk (with the drive and
    the lines further out): for a list (`whole`), whose statement runs
    before the rows are handed out, and for a load, which needs the drive.
    """
    model = queryset.model
    label = model._meta.label
    # QuerySet keeps its Query in _query (the .query property may apply a
    # deferred filter); RawQuerySet has only .query.
    query = queryset.__dict__.get("_query") or queryset.query
    step = CURRENT_PREFETCH.get()
    load = CURRENT_LOAD.get()
    mark = query.__dict__.get(relations.MARK)
    site: Site | None = None
    location = None
    if stacks_wanted(scopes):
        if whole or (mark is not None and step is None and load is None):
            site = locate(sys._getframe(0), drive=REQUEST.get() is None, caller=True)
            location = site.location
        else:
            location = user_location()
    rewrite = QUERYSET_REWRITE.get()
    if rewrite is not None and step is None and mark is None and load is None and location:
        # djperf.verify() is trying a fix at this root evaluation's origin:
        # change the queryset before Django compiles it (and before its joins
        # are planned below).
        try:
            rewrite(location, queryset, chunked=chunked)
        except Exception:
            contain("verify")
        query = queryset.__dict__.get("_query") or query
    select = getattr(query, "select_related", False)
    lookups = queryset._prefetch_related_lookups
    evaluation = Evaluation(
        model=label,
        location=location,
        select_related=_select_related_paths(select),
        prefetch_related=_prefetch_paths(lookups),
        built=query.__dict__.get(built.MARK),
        eager_at=query.__dict__.get(built.EAGER_MARK),
        admin=query.__dict__.get(admin.MARK),
        deferral=_deferral(query),
        prefetch_to_attr=tuple(
            str(lookup.prefetch_through)
            for lookup in lookups or ()
            if getattr(lookup, "to_attr", None)
        ),
        chunked=chunked,
    )
    new_load: LazyLoad | None = None
    if step is not None and label not in BOOKKEEPING_MODELS:
        parent = step.parent
        if step.load is not None:
            # Django 6.1's FETCH_PEERS fetches through prefetch_related_objects.
            _adopt(step.load, evaluation)
        provenance = Provenance(
            root=parent.root if parent is not None else None,
            path=parent.joined(step.name) if parent is not None else step.name,
            how="prefetch",
            evaluation=evaluation,
            via=step.load,
            parent=parent,
        )
    elif (
        mark is not None
        and not WRITING.get()
        and (new_load := relations.marked_load(scopes, mark, queryset, evaluation, site))
        is not None
    ):
        provenance = loaded_provenance(new_load, evaluation)
    elif load is not None and load.evaluation is None and _loads_model(load, label):
        _adopt(load, evaluation)
        provenance = loaded_provenance(load, evaluation)
    else:
        provenance = Provenance(root=evaluation, path="", how="row", evaluation=evaluation)
    if WRITING.get():
        evaluation.internal = True
    if provenance.root is not evaluation:
        evaluation.root = provenance.root
        evaluation.path = provenance.path
    for rec in scopes:
        if rec.open:
            rec.keep("evaluations", evaluation, evaluation_shape)
    plan = tags.join_plan(select, model, query, provenance) if select else None
    return evaluation, provenance, new_load, plan, site


def _loads_model(load: LazyLoad, label: str) -> bool:
    if load.related_model is not None:
        return load.related_model == label
    # A generic foreign key learns its target model from the first evaluation.
    return label not in BOOKKEEPING_MODELS


def _adopt(load: LazyLoad, evaluation: Evaluation) -> None:
    if load.evaluation is None and _loads_model(load, evaluation.model):
        load.evaluation = evaluation
        load.related_model = evaluation.model


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


def _first_row_under(
    scopes: tuple[Recording, ...], load: LazyLoad, rows: Iterator[Any]
) -> Iterator[Any]:
    """Pull the first row with `load` current: that is when the statement runs.

    The load is recorded only if a statement ran: an empty queryset
    (``.none()``, an unsaved instance) reaches no database and is no load.
    """
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


_END = object()


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


def _deferral(query: Any) -> tuple[str, tuple[str, ...]] | None:
    names, defer = getattr(query, "deferred_loading", ((), True))
    if not names:
        return None
    return ("defer" if defer else "only", tuple(sorted(names)))


def _prefetch_paths(lookups: Any) -> tuple[str, ...]:
    return tuple(
        lookup if isinstance(lookup, str) else str(lookup.prefetch_through)
        for lookup in lookups or ()
    )


def _prefetch_one_level(instances: Any, prefetcher: Any, lookup: Any, level: int) -> Any:
    scopes = active()
    if not instances:
        return _original_prefetch_one_level(instances, prefetcher, lookup, level)
    if not scopes:
        idle = PREFETCHING_IDLE.set(True)
        try:
            return _original_prefetch_one_level(instances, prefetcher, lookup, level)
        finally:
            PREFETCHING_IDLE.reset(idle)
    try:
        # prefetch_to, not prefetch_through: with Prefetch(to_attr=...) the
        # instances land under the to_attr name, and later lookups go through it.
        name = lookup.prefetch_to.split(LOOKUP_SEP)[level]
        load = CURRENT_LOAD.get()
        own = None
        if load is None and level == 0 and len(instances) == 1 and _called_by_user():
            # prefetch_related_objects([obj], ...) by the user: one instance's
            # relation loaded on its own, like a lazy load (per object in a
            # loop, an N+1).
            own = load = _per_object_load(scopes, instances[0], name)
        step = PrefetchStep(parent=tags.provenance_of(instances[0]), name=name, load=load)
        if not (lookup.to_attr and level == lookup.prefetch_to.count(LOOKUP_SEP)):
            # (A to_attr list is a plain attribute: its reads are not seen.)
            usage.expect_prefetch(step.parent, name, prefetcher)
    except Exception:
        contain("prefetch_related")
        return _original_prefetch_one_level(instances, prefetcher, lookup, level)
    token = CURRENT_PREFETCH.set(step)
    load_token = CURRENT_LOAD.set(own) if own is not None else None
    try:
        return _original_prefetch_one_level(instances, prefetcher, lookup, level)
    finally:
        if load_token is not None:
            CURRENT_LOAD.reset(load_token)
        CURRENT_PREFETCH.reset(token)
        if own is not None and own.queries:
            relations.record(scopes, own)


def _called_by_user() -> bool:
    """Whether prefetch_related_objects(), which called this level, was called
    by user code rather than by a queryset (its own prefetch_related, its
    iterator's chunks) or a fetch mode."""
    try:
        caller = sys._getframe(3)  # this, _prefetch_one_level, prefetch_related_objects
    except ValueError:
        return False
    return is_user_file(caller.f_code.co_filename)


def _per_object_load(scopes: tuple[Recording, ...], instance: Any, name: str) -> LazyLoad | None:
    info = relations.describe_attribute(type(instance), name)
    return None if info is None else relations.new_load(scopes, info, instance)


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
