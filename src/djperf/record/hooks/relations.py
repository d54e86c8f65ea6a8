"""Lazy loads: a relation or a deferred field fetched for one instance.

Each relation kind reaches the database through a different door, so each
door is watched where Django decides to go to the database, never on the
path that reads a cached value (a select_related FK costs nothing extra):

==========================  ==============================  =====================
relation                    Django 6.1 (fetch modes)        Django 5.2
==========================  ==============================  =====================
forward FK / one-to-one     ``FetchOne/FetchPeers.fetch``   descriptor get_queryset(instance=)
reverse one-to-one          ``FetchOne/FetchPeers.fetch``   descriptor get_queryset(instance=)
deferred field              ``FetchOne/FetchPeers.fetch``   ``DeferredAttribute.__get__`` miss
generic foreign key         ``FetchOne/FetchPeers.fetch``   ``GenericForeignKey.__get__``
reverse FK, many-to-many,   the related manager's           same
generic relation            ``_apply_rel_filters``
==========================  ==============================  =====================

Two mechanisms record them. A *frame* wraps a synchronous fetch: the load is
current while Django runs it, and the statements and the evaluation inside
belong to it. A *mark* is put on the Query of a queryset a related manager
(or a 5.2 descriptor) builds for one instance; Query.clone() copies it, so
when that queryset, or a ``.filter()`` of it, is evaluated later, the ORM
hook in orm.py records the load. Marks are set whether or not a capture is
active, so a queryset built before a capture and evaluated inside it counts;
but not in a prefetch run with no capture open, which builds one such
queryset per instance and fills its results itself (marking them cost djperf
idle about 1% of a prefetch loop: docs/benchmarks.md).

FETCH_RAISE is never wrapped: Django's FieldFetchBlocked goes through
untouched, and no fetch mode's behaviour changes.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import django
from django.apps import apps
from django.db.models.fields import related_descriptors
from django.db.models.fields.related_descriptors import (
    ForwardManyToOneDescriptor,
    ReverseManyToOneDescriptor,
    ReverseOneToOneDescriptor,
)
from django.db.models.query_utils import DeferredAttribute

from djperf._errors import contain
from djperf.record import tags
from djperf.record.events import LazyLoad, RelationKind, _DropOnCopy, lazy_load_shape
from djperf.record.hooks import usage, writes
from djperf.record.hooks._patch import Patches
from djperf.record.hooks._state import CURRENT_LOAD, PREFETCHING_IDLE
from djperf.record.hooks.columns import WatchedColumn
from djperf.record.scope import Recording, active, stacks_wanted
from djperf.record.stack import Site, locate
from djperf.record.work import REQUEST

# The attribute a marked Query carries.
MARK = "_djperf_relation"
# The attribute of the queryset a related manager hands out. A QuerySet's
# clones never copy it, so a queryset evaluated without it was refined by the
# caller (.filter(), .order_by(), a slice, .get(), .first() ...): a refined
# manager never reads prefetch_related's cache, and the fix is a Prefetch object.
AS_HANDED_OUT = "_djperf_as_handed_out"
# (Both are stored as plain attributes, never through __dict__: on Python
# 3.12+ reaching an instance's __dict__ makes CPython build one for it.)
MANY_KINDS = frozenset({"reverse_foreign_key", "many_to_many", "generic_relation"})

_patches = Patches()
# fetcher (a descriptor) -> what it loads; descriptors live as long as their model.
_described: dict[Any, RelationInfo | None] = {}


@dataclass(frozen=True, slots=True)
class RelationInfo(_DropOnCopy):
    """A relation as the user writes it, and where a prefetch of it is cached.

    Alone, it is also the mark of a queryset whose hints name its instance
    (Django adds the instance to the hints of every related manager's
    queryset except a generic relation's): no allocation per manager call.
    """

    field: str
    kind: RelationKind
    # None: the instance's own model (deferred fields) or not known until the
    # load runs (generic foreign keys).
    related_model: str | None = None
    # Key in instance._prefetched_objects_cache when the relation is prefetched.
    prefetch_cache_name: str | None = None
    # Fields of the related model its manager filters on to reach the
    # instance's rows (the foreign key; a generic relation's two fields).
    joins_on: tuple[str, ...] = ()


class Mark(_DropOnCopy):
    """Put on a Query: "evaluating this loads `info` for `instance`".

    The instance is held weakly: the queryset may sit in that very instance's
    prefetch cache, and a strong reference would make a cycle.
    """

    __slots__ = ("info", "instance")

    def __init__(self, info: RelationInfo, instance: Any) -> None:
        self.info = info
        self.instance = weakref.ref(instance)


def fetch_modes_available() -> bool:
    return django.VERSION >= (6, 1)


# -- describing relations -------------------------------------------------


def describe(fetcher: Any) -> RelationInfo | None:
    """What the descriptor `fetcher` loads, or None for one djperf does not know."""
    if type(fetcher) is WatchedColumn:
        # Put on for unused-column while capturing: describe Django's own, which
        # lives as long as the model (this one goes when the captures close).
        fetcher = fetcher.original
    try:
        return _described[fetcher]
    except KeyError:
        pass
    info: RelationInfo | None
    if isinstance(fetcher, ForwardManyToOneDescriptor):
        field = fetcher.field
        info = RelationInfo(
            field=field.name,
            kind="one_to_one" if field.one_to_one else "foreign_key",
            related_model=field.related_model._meta.label,
        )
    elif isinstance(fetcher, ReverseOneToOneDescriptor):
        related = fetcher.related
        info = RelationInfo(
            field=related.get_accessor_name() or related.name,
            kind="reverse_one_to_one",
            related_model=related.related_model._meta.label,
        )
    elif isinstance(fetcher, DeferredAttribute):
        info = RelationInfo(field=fetcher.field.attname, kind="deferred_field")
    elif _is_generic_foreign_key(fetcher):
        field = getattr(fetcher, "field", fetcher)
        info = RelationInfo(field=field.name, kind="generic_foreign_key")
    else:
        info = None
    _described[fetcher] = info
    return info


def _is_generic_foreign_key(fetcher: Any) -> bool:
    if not apps.is_installed("django.contrib.contenttypes"):
        return False
    from django.contrib.contenttypes.fields import GenericForeignKey

    return isinstance(fetcher, GenericForeignKey) or isinstance(
        getattr(fetcher, "field", None), GenericForeignKey
    )


def _describe_reverse_many_to_one(rel: Any) -> RelationInfo:
    return RelationInfo(
        field=rel.get_accessor_name(),
        kind="reverse_foreign_key",
        related_model=rel.related_model._meta.label,
        prefetch_cache_name=rel.cache_name,
        joins_on=(rel.field.name,),
    )


def _describe_many_to_many(rel: Any, reverse: bool) -> RelationInfo:
    if reverse:
        return RelationInfo(
            field=rel.get_accessor_name(),
            kind="many_to_many",
            related_model=rel.related_model._meta.label,
            prefetch_cache_name=rel.field.related_query_name(),
        )
    return RelationInfo(
        field=rel.field.name,
        kind="many_to_many",
        related_model=rel.model._meta.label,
        prefetch_cache_name=rel.field.name,
    )


def _describe_generic_relation(rel: Any) -> RelationInfo:
    return RelationInfo(
        field=rel.field.name,
        kind="generic_relation",
        related_model=rel.model._meta.label,
        prefetch_cache_name=rel.field.attname,
        joins_on=(rel.field.content_type_field_name, rel.field.object_id_field_name),
    )


def describe_attribute(model: Any, name: str) -> RelationInfo | None:
    """The relation `model.<name>` is, whatever its kind (for a prefetch of
    it), or None for an attribute that is no relation."""
    descriptor = next((vars(k)[name] for k in model.__mro__ if name in vars(k)), None)
    if descriptor is None:
        return None
    info = describe(descriptor)
    if info is not None:
        return info
    rel = getattr(descriptor, "rel", None)
    if rel is None:
        return None
    if isinstance(descriptor, ReverseManyToOneDescriptor) and rel.many_to_many:
        return _describe_many_to_many(rel, getattr(descriptor, "reverse", False))
    if _is_generic_relation(descriptor):
        return _describe_generic_relation(rel)
    if isinstance(descriptor, ReverseManyToOneDescriptor):
        return _describe_reverse_many_to_one(rel)
    return None


def _is_generic_relation(descriptor: Any) -> bool:
    if not apps.is_installed("django.contrib.contenttypes"):
        return False
    from django.contrib.contenttypes.fields import ReverseGenericManyToOneDescriptor

    return isinstance(descriptor, ReverseGenericManyToOneDescriptor)


# -- recording ----------------------------------------------------------------


def new_load(
    scopes: tuple[Recording, ...],
    info: RelationInfo,
    instance: Any,
    *,
    fetch_mode: str | None = None,
    peers: int = 1,
    site: Site | None = None,
) -> LazyLoad:
    """A load of `info` for `instance`; `site` is the walk already made to
    its user line (with the drive), when the caller made it."""
    label = type(instance)._meta.label
    related = info.related_model
    if info.kind == "deferred_field":
        related = label
    cache = instance.__dict__.get("_prefetched_objects_cache")
    request = REQUEST.get()
    location = drive = via = None
    if site is None and stacks_wanted(scopes):
        site = locate(sys._getframe(0), drive=request is None)
    if site is not None:
        location, drive, via = site.location, site.drive, site.via
    return LazyLoad(
        model=label,
        field=info.field,
        kind=info.kind,
        related_model=related,
        _instance=weakref.ref(instance),
        location=location,
        source=tags.provenance_of(instance),
        fetch_mode=fetch_mode,
        peers=peers,
        bypassed_prefetch=bool(
            cache and info.prefetch_cache_name and info.prefetch_cache_name in cache
        ),
        request=request,
        drive=drive,
        via=via,
        row_key=_row_key(label, instance),
    )


def _row_key(label: str, instance: Any) -> int | None:
    """Equal for two objects of the same row (a copy made by the code)."""
    try:
        pk = instance.pk
        return None if pk is None else hash((label, pk))
    except Exception:  # an unhashable or broken primary key: no key
        return None


# The relations whose object a key can stand for (see usage.watch_reads).
_KEYED = frozenset({"foreign_key", "one_to_one"})


def record(scopes: tuple[Recording, ...], load: LazyLoad) -> None:
    for rec in scopes:
        if rec.open:
            rec.keep("lazy_loads", load, lazy_load_shape)
    if load.kind in _KEYED:
        usage.watch_reads(load)


def run_load(
    scopes: tuple[Recording, ...],
    fetcher: Any,
    instance: Any,
    fetch: Callable[[], Any],
    *,
    fetch_mode: str | None = None,
    peers: Callable[[], int] | None = None,
) -> Any:
    """Run `fetch` as the lazy load of `fetcher` on `instance` (a frame).

    The load is recorded only if it ran a statement: a parent link built from
    the child's own columns, or a peer already fetched, is no load.
    """
    try:
        info = describe(fetcher)
        load = (
            None
            if info is None
            else new_load(
                scopes,
                info,
                instance,
                fetch_mode=fetch_mode,
                peers=1 if peers is None else peers(),
            )
        )
    except Exception:
        contain("lazy load")
        load = None
    if load is None:
        return fetch()
    token = CURRENT_LOAD.set(load)
    try:
        return fetch()
    finally:
        CURRENT_LOAD.reset(token)
        if load.queries:
            record(scopes, load)


def marked_load(
    scopes: tuple[Recording, ...],
    mark: Mark | RelationInfo,
    queryset: Any,
    evaluation: Any,
    site: Site | None = None,
) -> LazyLoad | None:
    """The lazy load performed by evaluating a marked queryset (called by orm.py).

    orm.py records it once its statement has run: an empty queryset
    (``.none()``, an unsaved instance) reaches no database and is no load.
    """
    if isinstance(mark, Mark):
        info, instance = mark.info, mark.instance()
    else:
        info, instance = mark, queryset._hints.get("instance")
    if instance is None:
        return None
    load = new_load(scopes, info, instance, site=site)
    load.related_model = evaluation.model
    load.evaluation = evaluation
    if info.kind in MANY_KINDS and not getattr(queryset, AS_HANDED_OUT, False):
        load.refined = refinement(queryset.query, info)
    return load


def refinement(query: Any, info: RelationInfo) -> str:
    """The refinement of a related manager's queryset, as code for a Prefetch
    queryset that loads no more than it: ".filter(title__startswith=...)
    .order_by('-title')[:1]". Filter values are not shown (they are the
    user's data); a filter djperf cannot write out (an OR, a negation, an
    expression) is ".filter(...)", as is a refinement it cannot see at all
    (select_related, annotations ...)."""
    from django.db.models.query import MAX_GET_RESULTS

    ordering = ", ".join(repr(term) if isinstance(term, str) else "..." for term in query.order_by)
    text = _filters(query, info)
    text += f".order_by({ordering})" if ordering else ""
    if not query.standard_ordering:
        text += ".reverse()"  # last(), or reverse(), of the caller's
    low, high = query.low_mark, query.high_mark
    if query.is_sliced and not (low == 0 and high == MAX_GET_RESULTS):
        text += f"[{low or ''}:{'' if high is None else high}]"
    if text.startswith("["):
        text = ".all()" + text
    return text or ".filter(...)"


def _filters(query: Any, info: RelationInfo) -> str:
    """The filters the caller added to a related manager's queryset, without
    the manager's own (the foreign key to the instance, a many-to-many's join)."""
    from django.db.models.expressions import Col
    from django.db.models.lookups import Lookup

    names = []
    for condition in query.where.children:
        if not isinstance(condition, Lookup) or not isinstance(condition.lhs, Col):
            return ".filter(...)"
        target = condition.lhs.target
        if target.model is not query.model or target.name in info.joins_on:
            continue  # the manager's own: through the join table, or to the instance
        lookup = condition.lookup_name
        names.append(target.name if lookup == "exact" else f"{target.name}__{lookup}")
    return f".filter({', '.join(f'{name}=...' for name in names)})" if names else ""


def _mark(queryset: Any, info: RelationInfo | None, instance: Any) -> None:
    if info is None or instance is None:
        return
    if queryset._hints.get("instance") is instance:
        queryset._query._djperf_relation = info
    else:
        queryset._query._djperf_relation = Mark(info, instance)


# -- Django 6.1: fetch modes --------------------------------------------------


def _install_fetch_modes() -> None:
    from django.db.models import fetch_modes

    _patches.wrap(fetch_modes.FetchOne, "fetch", _watching_fetch_one)
    _patches.wrap(fetch_modes.FetchPeers, "fetch", _watching_fetch_peers)


def _watching_fetch_one(original: Any) -> Any:
    def fetch(self: Any, fetcher: Any, instance: Any) -> Any:
        scopes = active()
        if not scopes:
            return original(self, fetcher, instance)
        return run_load(
            scopes,
            fetcher,
            instance,
            lambda: original(self, fetcher, instance),
            fetch_mode="FETCH_ONE",
        )

    return fetch


def _watching_fetch_peers(original: Any) -> Any:
    def fetch(self: Any, fetcher: Any, instance: Any) -> Any:
        scopes = active()
        if not scopes:
            return original(self, fetcher, instance)
        return run_load(
            scopes,
            fetcher,
            instance,
            lambda: original(self, fetcher, instance),
            fetch_mode="FETCH_PEERS",
            peers=lambda: _missing_peers(fetcher, instance),
        )

    return fetch


def _missing_peers(fetcher: Any, instance: Any) -> int:
    """How many peers FETCH_PEERS will fetch for: those not loaded yet."""
    peers = [peer for ref in instance._state.peers if (peer := ref()) is not None]
    if isinstance(fetcher, DeferredAttribute):
        attname = fetcher.field.attname
        missing = [peer for peer in peers if attname not in peer.__dict__]
    elif hasattr(fetcher, "is_cached"):
        missing = [peer for peer in peers if not fetcher.is_cached(peer)]
    else:
        missing = peers
    return max(1, len(missing))


# -- Django 5.2: descriptors --------------------------------------------------


def _install_descriptors() -> None:
    for descriptor in (ForwardManyToOneDescriptor, ReverseOneToOneDescriptor):
        _patches.wrap(descriptor, "get_queryset", _marking_get_queryset)
    _patches.wrap(DeferredAttribute, "__get__", _watching_deferred_get)
    if apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes.fields import GenericForeignKey

        _patches.wrap(GenericForeignKey, "__get__", _watching_generic_get)


def _watching_deferred_get(original: Any) -> Any:
    def __get__(self: Any, instance: Any, cls: Any = None) -> Any:
        # Django's own fast path, unchanged: a loaded field costs nothing more.
        if instance is None:
            return self
        data = instance.__dict__
        attname = self.field.attname
        if attname in data:
            return data[attname]
        scopes = active()
        if not scopes:
            return original(self, instance, cls)
        return run_load(scopes, self, instance, lambda: original(self, instance, cls))

    return __get__


def _watching_generic_get(original: Any) -> Any:
    def __get__(self: Any, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return original(self, instance, cls)
        scopes = active()
        if not scopes:
            return original(self, instance, cls)
        return run_load(scopes, self, instance, lambda: original(self, instance, cls))

    return __get__


def _marking_get_queryset(original: Any) -> Any:
    def get_queryset(self: Any, **hints: Any) -> Any:
        queryset = original(self, **hints)
        instance = hints.get("instance")
        # Only the lazy path passes instance=; prefetches call it without.
        if instance is not None:
            try:
                _mark(queryset, describe(self), instance)
            except Exception:
                contain("related descriptor")
        return queryset

    return get_queryset


# -- related managers (both versions) -----------------------------------------


def _marking_apply_rel_filters(original: Any, info: RelationInfo) -> Any:
    if info.kind == "generic_relation":
        # Django adds no instance hint here: the mark must name the instance.
        def _apply_generic_rel_filters(self: Any, queryset: Any) -> Any:
            queryset = original(self, queryset)
            if not PREFETCHING_IDLE.get():
                try:
                    _mark(queryset, info, self.instance)
                    queryset._djperf_as_handed_out = True
                except Exception:
                    contain("related manager")
            return queryset

        return _apply_generic_rel_filters

    # Reverse FK and M2M managers add the instance to the queryset's hints, so
    # the shared RelationInfo is the whole mark. This runs for every instance
    # of a prefetch: two attribute stores, nothing allocated; none idle.
    def _apply_rel_filters(self: Any, queryset: Any) -> Any:
        queryset = original(self, queryset)
        if not PREFETCHING_IDLE.get():
            try:
                queryset._query._djperf_relation = info
                queryset._djperf_as_handed_out = True
            except Exception:
                contain("related manager")
        return queryset

    return _apply_rel_filters


def _wrapping_factory(original: Any, describe_rel: Callable[..., RelationInfo]) -> Any:
    def factory(superclass: Any, rel: Any, *args: Any, **kwargs: Any) -> Any:
        manager_class = original(superclass, rel, *args, **kwargs)
        try:
            info = describe_rel(rel, *args, **kwargs)
            manager_class._apply_rel_filters = _marking_apply_rel_filters(
                manager_class._apply_rel_filters, info
            )
            writes.watch_manager(manager_class)
            usage.watch_manager(manager_class, info.field)
        except Exception:
            contain("related manager class")
        return manager_class

    return factory


def _install_managers() -> None:
    _patches.wrap(
        related_descriptors,
        "create_reverse_many_to_one_manager",
        lambda original: _wrapping_factory(original, _describe_reverse_many_to_one),
    )
    _patches.wrap(
        related_descriptors,
        "create_forward_many_to_many_manager",
        lambda original: _wrapping_factory(original, _describe_many_to_many),
    )
    if apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes import fields as generic

        _patches.wrap(
            generic,
            "create_generic_related_manager",
            lambda original: _wrapping_factory(original, _describe_generic_relation),
        )
    _forget_manager_classes()


def _forget_manager_classes() -> None:
    """Drop manager classes Django already built, so they are built again
    by the current factory (``related_manager_cls`` is a cached_property)."""
    descriptor_types: tuple[type, ...] = (ReverseManyToOneDescriptor,)
    if apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes.fields import ReverseGenericManyToOneDescriptor

        descriptor_types += (ReverseGenericManyToOneDescriptor,)
    for model in apps.get_models(include_auto_created=True):
        for value in vars(model).values():
            if isinstance(value, descriptor_types):
                value.__dict__.pop("related_manager_cls", None)


def install() -> None:
    if _patches:
        return
    apps.check_apps_ready()
    if fetch_modes_available():
        _install_fetch_modes()
    else:
        _install_descriptors()
    _install_managers()


def uninstall() -> None:
    _patches.undo()
    _described.clear()
    if apps.ready:
        _forget_manager_classes()
