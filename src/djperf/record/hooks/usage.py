"""Which eagerly loaded relations were used: the raw material of unused-eager-load.

A select_related relation is used when its descriptor is read on an instance
(``review.book``); a prefetched one when its related manager's queryset is
asked for (``author.books.all()``). Each use adds the relation's full path to
the root evaluation's ``used`` set (or, for rows with no root, the set of
the evaluation that built them), so a lookup an evaluation asked for and
no instance ever used shows as unused.

Reading a relation is the hot path of a select_related loop, and asking a
related manager for its queryset the hot path of a prefetch loop, so these
wrappers (and BaseManager.get_queryset's, which notes where querysets are
built) are installed only while at least one capture is open: djperf
installed but idle pays nothing for them. A use is noted once per relation
and provenance, not once per access.

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
from djperf.record.tags import TAG, provenance_of

if TYPE_CHECKING:
    from djperf.record.events import LazyLoad

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
    source.seen.add(key)
    # The root evaluation keeps the uses; instances read through a related
    # manager of an object from no queryset the capture saw (a basket made by
    # the test, then basket.lines.select_related(...)) have none: the
    # evaluation that built them keeps them, by the same full path.
    owner = source.root if source.root is not None else source.evaluation
    if owner is not None:
        used = owner.used
        for name in names:
            used.add(source.joined(name))


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
    _watching = True
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
                # is already noted (wrapper installed only while a capture is open).
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
        _managers[manager_class] = (field,)
        if _open_scopes:
            _patches.wrap(manager_class, "get_queryset", _noting_manager_use((field,)))


def _asking_joins(original: Any) -> Any:
    return noting_where_eager(original, prefetch=False)


def _asking_prefetches(original: Any) -> Any:
    return noting_where_eager(original, prefetch=True)


def scope_opened() -> None:
    """A capture scope opened: watch relation reads while any is open."""
    global _open_scopes
    with _lock:
        _open_scopes += 1
        if _open_scopes == 1:
            columns.opened()
        if _open_scopes == 1 and not _patches:
            _patches.wrap(ForwardManyToOneDescriptor, "__get__", _noting_descriptor_use)
            _patches.wrap(ReverseOneToOneDescriptor, "__get__", _noting_descriptor_use)
            _patches.wrap(BaseManager, "get_queryset", noting_where_built)
            _patches.wrap(QuerySet, "select_related", _asking_joins)
            _patches.wrap(QuerySet, "prefetch_related", _asking_prefetches)
            for manager_class, names in list(_managers.items()):
                _patches.wrap(manager_class, "get_queryset", _noting_manager_use(names))


def scope_closed() -> None:
    global _open_scopes, _watching
    with _lock:
        _open_scopes = max(0, _open_scopes - 1)
        if _open_scopes == 0:
            _patches.undo()
            columns.release()
            _watching = False


def install() -> None:
    """Nothing until a scope opens (see scope_opened)."""


def uninstall() -> None:
    global _open_scopes
    with _lock:
        _patches.undo()
        _open_scopes = 0
        _managers.clear()
    _names.clear()
