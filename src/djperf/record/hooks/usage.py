"""Which eagerly loaded relations were used: the raw material of unused-eager-load.

A select_related relation is used when its descriptor is read on an instance
(``review.book``); a prefetched one when its related manager's queryset is
asked for (``author.books.all()``). Each use adds the relation's full path to
the root evaluation's ``used`` set (or, for rows with no root, the set of
the evaluation that built them), so a lookup an evaluation asked for and
no instance ever used shows as unused.

Reading a relation is the hot path of a select_related loop, and asking a
related manager for its queryset the hot path of a prefetch loop, so these
wrappers are installed only while a use is still to be seen: an evaluation
under a capture that joined a relation, or a prefetch that filled one,
expects a first read of it from its instances (`expect`); once every
expected read has been seen, the wrappers come off, and a loop's other rows
read the relation at Django's own cost. The first read is all unused-eager-load
needs: a use is noted once per relation and provenance, not once per access.
djperf installed but idle, or capturing with nothing eager to watch, pays
nothing for them. (BaseManager.get_queryset's wrapper, which notes where
querysets are built, and select_related's and prefetch_related's are
installed once with djperf, and return at once while no capture is open.)

It also notes a lazily loaded forward relation read again on its instance
after the load (``feeding.child`` loaded in ``clean()``, read again by an
importer's diff): a fix that reads only the key at the load's line would move
the load to that read, not save it. Only instances a lazy load marked pay for
that, and only until their second read.
"""

from __future__ import annotations

import sys
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import django
from django.db.models import QuerySet
from django.db.models.fields.related_descriptors import (
    ForwardManyToOneDescriptor,
    ReverseOneToOneDescriptor,
)
from django.db.models.manager import BaseManager

from djperf._errors import contain
from djperf.record.events import _DropOnCopy
from djperf.record.hooks import columns
from djperf.record.hooks._patch import Patches
from djperf.record.hooks._state import CURRENT_PREFETCH
from djperf.record.hooks.built import noting_where_built, noting_where_eager
from djperf.record.scope import active, stacks_wanted
from djperf.record.stack import locate
from djperf.record.tags import ALL_JOINS, TAG, JoinPlan, provenance_of

if TYPE_CHECKING:
    from djperf.record.events import LazyLoad, Provenance

_patches = Patches()
_open_scopes = 0
_lock = threading.RLock()
# descriptor -> the names a lookup may use for it (field name; for a reverse
# one-to-one, its accessor and its query name).
_names: dict[Any, tuple[str, ...]] = {}


def note_use(instance: Any, key: object, names: tuple[str, ...]) -> None:
    # No check for an active capture: instances are often used in another
    # thread (a pool, a template rendered elsewhere) than the one that
    # captured their evaluation; their provenance says where they belong.
    source = provenance_of(instance)
    if source is None or key in source.seen:
        return
    if type(source.seen) is not set:
        source.seen = set()
    source.seen.add(key)
    # The root evaluation keeps the uses; instances read through a related
    # manager of an object from no queryset the capture saw (a basket made by
    # the test, then basket.lines.select_related(...)) have none: the
    # evaluation that built them keeps them, by the same full path.
    owner = source.root if source.root is not None else source.evaluation
    if owner is not None:
        for name in names:
            owner.note_used(source.joined(name))
    if _expected_reads or _expected_calls:
        _seen(source, names)


# (provenance, relation name): a relation an eager load gave the instances of
# that provenance, whose first read is still to be seen: read through a
# descriptor (a join, a prefetched foreign key), or asked of a related
# manager (a prefetched reverse foreign key or many-to-many). Each kind's
# wrappers come off when none of its kind is left.
_expected_reads: set[tuple[Provenance, str]] = set()
_expected_calls: set[tuple[Provenance, str]] = set()
_descriptor_patches = Patches()
_manager_patches = Patches()
# Related manager classes wrapped in _manager_patches.
_managers_watched: set[type] = set()


def expect(provenance: Provenance | None, name: str, manager_class: type | None = None) -> None:
    """Instances of `provenance` were given relation `name` by an eager load
    (a select_related join; a prefetch, read through `manager_class` for a
    reverse foreign key or a many-to-many): watch for its first read."""
    expected = _expected_reads if manager_class is None else _expected_calls
    if provenance is None or not _open_scopes or (provenance, name) in expected:
        return
    with _lock:
        if not _open_scopes or (provenance, name) in expected:
            return
        expected.add((provenance, name))
        if manager_class is None:
            if not _descriptor_patches:
                _watch_descriptors()
            return
        names = _managers.get(manager_class)
        if names is not None and manager_class not in _managers_watched:
            _managers_watched.add(manager_class)
            _manager_patches.wrap(manager_class, "get_queryset", _noting_manager_use(names))


def expect_joins(plan: JoinPlan, provenance: Provenance, *, built: bool) -> None:
    """The relations a select_related join plan gave rows of `provenance`
    (`built`: all of them built and tagged already)."""
    if plan is ALL_JOINS:
        # A bare select_related() follows whatever Django cached: the joins
        # are known from the tagged rows, and until they are all built, not
        # at all (an iterator()'s: watched while the captures last).
        if not built:
            expect(provenance, "*")
        for parent, name in provenance.joins():
            expect(parent, name)
        return
    for parent_slot, key, _, attribute, _ in plan:
        # A FilteredRelation alias is a plain attribute: its reads are not seen.
        if not attribute:
            expect(provenance if parent_slot == 0 else plan[parent_slot - 1][2], key)


def expect_prefetch(parent: Provenance | None, name: str, prefetcher: Any) -> None:
    """The relation `name` a prefetch gave instances of `parent`, fetched by
    `prefetcher` (a descriptor, or a related manager)."""
    if isinstance(prefetcher, (ForwardManyToOneDescriptor, ReverseOneToOneDescriptor)):
        expect(parent, name)
        return
    names = _managers.get(type(prefetcher))
    if names is not None:
        expect(parent, names[0], type(prefetcher))


def _seen(source: Provenance, names: tuple[str, ...]) -> None:
    """`source`'s instances read the relation `names` name: no need to watch
    for it any more, nor for anything of its kind once none is expected."""
    expected = _expected_calls if type(names) is _ManagerNames else _expected_reads
    with _lock:
        for name in names:
            expected.discard((source, name))
        if not _expected_calls and _manager_patches:
            _manager_patches.undo()
            _managers_watched.clear()
        if not _expected_reads and not _watching:
            _descriptor_patches.undo()


class _ManagerNames(tuple[str, ...]):
    """The names of a relation read through a related manager (the key its
    uses are noted under)."""

    __slots__ = ()


def _watch_descriptors() -> None:
    _descriptor_patches.wrap(ForwardManyToOneDescriptor, "__get__", _noting_descriptor_use)
    _descriptor_patches.wrap(ReverseOneToOneDescriptor, "__get__", _noting_descriptor_use)


# The instance attribute holding its lazily loaded forward relations still
# watched: field name -> [the load, reads of the relation since].
LOADED = "_djperf_loaded"
# Whether any load is watched while the open captures last: a select_related
# loop with no lazy load then reads no instance for it (one global test).
_watching = False
# Model.save() reads each cached parent to check it was saved: not a use.
_MODEL_BASE = str(Path(django.__file__).parent / "db" / "models" / "base.py")


class _Loaded(dict[str, list[Any]], _DropOnCopy):
    """An instance's watched loads; a copy shares them, pickling drops them."""

    __slots__ = ()


def watch_reads(load: LazyLoad) -> None:
    """Note the next reads of `load`'s relation on its instance (forward
    foreign keys and one-to-ones: the relations a key can stand for)."""
    global _watching
    instance = load.instance
    if instance is None:
        return
    if not _watching:
        with _lock:
            if not _open_scopes:
                return
            _watching = True
            if not _descriptor_patches:
                _watch_descriptors()
    data = instance.__dict__
    loaded = data.get(LOADED)
    if loaded is None:
        loaded = data[LOADED] = _Loaded()
    # The read that ran the load is still to come back through __get__.
    loaded[load.field] = [load, 0]


def _count_read(loaded: _Loaded, names: tuple[str, ...]) -> None:
    for name in names:
        entry = loaded.get(name)
        if entry is None:
            continue
        entry[1] += 1
        if entry[1] < 2:
            return
        # The frame that read the attribute (2 out: this, then __get__).
        reader = sys._getframe(2)
        if reader.f_code.co_filename == _MODEL_BASE:
            return
        load: LazyLoad = entry[0]
        at = load.location
        if at is not None and reader.f_lineno == at.line and reader.f_code.co_name == at.function:
            # The load's own line reading it again (``book.author.name,
            # book.author.email``): no later read, and no stack walk for it.
            return
        del loaded[name]
        load.read_again = True
        if stacks_wanted(active()):
            load.read_again_at = locate(reader).location
        return


def _descriptor_names(descriptor: Any) -> tuple[str, ...]:
    names = _names.get(descriptor)
    if names is None:
        if isinstance(descriptor, ReverseOneToOneDescriptor):
            related = descriptor.related
            names = tuple({related.get_accessor_name() or related.name, related.name})
        else:
            names = (descriptor.field.name,)
        _names[descriptor] = names
    return names


def _noting_descriptor_use(original: Any) -> Any:
    def __get__(self: Any, instance: Any, cls: Any = None) -> Any:
        try:
            return original(self, instance, cls)
        finally:
            # Even when it raises: author.bio raising DoesNotExist after
            # select_related("bio") found no row still used the join.
            if instance is not None:
                # The common case in two lookups: a tagged instance whose relation
                # is already noted (wrapper installed only while a read is expected).
                data = instance.__dict__
                source = data.get(TAG)
                if source is None or self not in source.seen:
                    try:
                        note_use(instance, self, _names.get(self) or _descriptor_names(self))
                    except Exception:
                        contain("relation use")
                loaded = data.get(LOADED) if _watching else None
                if loaded:
                    try:
                        _count_read(loaded, _names.get(self) or _descriptor_names(self))
                    except Exception:
                        contain("relation read again")

    return __get__


def _noting_manager_use(names: tuple[str, ...]) -> Any:
    def wrap(original: Any) -> Any:
        def get_queryset(self: Any) -> Any:
            queryset = original(self)
            # prefetch_related itself asks each instance's manager for a queryset.
            if CURRENT_PREFETCH.get() is None:
                try:
                    note_use(self.instance, names, names)
                except Exception:
                    contain("relation use")
            return queryset

        return get_queryset

    return wrap


# Related manager classes Django built, and the relation each manages.
_managers: weakref.WeakKeyDictionary[type, tuple[str, ...]] = weakref.WeakKeyDictionary()


def watch_manager(manager_class: type, field: str) -> None:
    """Register a related manager class Django just built (see relations.py)."""
    with _lock:
        _managers[manager_class] = _ManagerNames((field,))


def _asking_joins(original: Any) -> Any:
    return noting_where_eager(original, prefetch=False)


def _asking_prefetches(original: Any) -> Any:
    return noting_where_eager(original, prefetch=True)


def scope_opened() -> None:
    """A capture scope opened: relation reads may be watched while any is open."""
    global _open_scopes
    with _lock:
        _open_scopes += 1
        if _open_scopes == 1:
            columns.opened()


def scope_closed() -> None:
    global _open_scopes
    with _lock:
        _open_scopes = max(0, _open_scopes - 1)
        if _open_scopes == 0:
            _stop_watching()
            columns.release()


def _stop_watching() -> None:
    global _watching
    _descriptor_patches.undo()
    _manager_patches.undo()
    _managers_watched.clear()
    _expected_reads.clear()
    _expected_calls.clear()
    _watching = False


def install() -> None:
    """Where querysets are built and their eager loads asked for: wrapped
    once, each wrapper returning at once when no capture is open (a
    ContextVar read per queryset built); relation reads: see `expect`."""
    if _patches:
        return
    _patches.wrap(BaseManager, "get_queryset", noting_where_built)
    _patches.wrap(QuerySet, "select_related", _asking_joins)
    _patches.wrap(QuerySet, "prefetch_related", _asking_prefetches)


def uninstall() -> None:
    global _open_scopes
    with _lock:
        _patches.undo()
        _stop_watching()
        _open_scopes = 0
        _managers.clear()
    _names.clear()
