"""Operations: Django calls that send several statements, and reads done to write.

- A deletion (``Collector.collect`` then ``Collector.delete``, behind
  ``Model.delete()`` and ``QuerySet.delete()``) reads the rows to cascade and
  deletes them: one operation of kind "delete". Its statements are the cost
  of one ``delete()`` call, never a write-in-loop of their own.
- ``bulk_create``, ``bulk_update`` and ``in_bulk`` send batches: one
  operation of kind "bulk". Not a ``bulk_create`` or ``bulk_update`` given a
  list of one object: that is a write of one row like ``save()``, and called
  in a loop it is a write-in-loop.
- A related manager's ``set()``, ``add()``, ``remove()``, ``clear()``: one
  operation of kind "relation_write".
- ``get_or_create()`` and ``update_or_create()``: a read, and a write when
  the row is missing or changed: one operation of kind "get_or_create".
- ``Model.save_base``, the step every ``save()`` goes through: its
  statements carry the saved instance's model class (a proxy's own), so that
  write-in-loop knows whose save() and signal receivers a bulk write would skip.

Statements sent inside an operation carry its kind and number (see db.py).
While a deletion collects or a related manager writes, ``WRITING`` is also
set: the querysets Django evaluates for them are its own, no lazy loads and
nothing a user's select_related could fix. Not while a deletion deletes: the
pre_delete and post_delete handlers it runs are user code.

With no capture active every wrapper calls straight through.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

from django.db.models import Model
from django.db.models.deletion import Collector
from django.db.models.query import QuerySet

from djperf.record.events import QueryRole
from djperf.record.hooks._patch import Patches
from djperf.record.hooks._state import OPERATION, SAVING, WRITING, Operation
from djperf.record.scope import active

_patches = Patches()
_numbers = itertools.count(1)
MANAGER_WRITES = ("add", "remove", "clear", "set")
GET_OR_CREATE_METHODS = ("get_or_create", "update_or_create")


def _operation(kind: QueryRole, *, writing: bool) -> Callable[[Any], Any]:
    def wrap(original: Any) -> Any:
        # functools.wraps keeps Django's alters_data flag, which templates obey.
        @functools.wraps(original)
        def method(*args: Any, **kwargs: Any) -> Any:
            if not active():
                return original(*args, **kwargs)
            token = (
                OPERATION.set(Operation(kind, next(_numbers))) if OPERATION.get() is None else None
            )
            writing_token = WRITING.set(True) if writing else None
            try:
                return original(*args, **kwargs)
            finally:
                if writing_token is not None:
                    WRITING.reset(writing_token)
                if token is not None:
                    OPERATION.reset(token)

        return method

    return wrap


def _bulk(original: Any) -> Any:
    """bulk_create / bulk_update: an operation of kind "bulk", unless given
    one object (a list or tuple of one: a generator's size is unknown)."""
    batch = _operation("bulk", writing=False)(original)

    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        objs = args[0] if args else kwargs.get("objs")
        if isinstance(objs, list | tuple) and len(objs) <= 1 and OPERATION.get() is None:
            return original(self, *args, **kwargs)
        return batch(self, *args, **kwargs)

    return method


def _deletion(*, writing: bool) -> Callable[[Any], Any]:
    """Collector.collect and Collector.delete: one operation per collector."""

    def wrap(original: Any) -> Any:
        @functools.wraps(original)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not active():
                return original(self, *args, **kwargs)
            number = self.__dict__.get("_djperf_operation")
            if number is None:
                number = self.__dict__["_djperf_operation"] = next(_numbers)
            token = OPERATION.set(Operation("delete", number)) if OPERATION.get() is None else None
            writing_token = WRITING.set(True) if writing else None
            try:
                return original(self, *args, **kwargs)
            finally:
                if writing_token is not None:
                    WRITING.reset(writing_token)
                if token is not None:
                    OPERATION.reset(token)

        return method

    return wrap


def _saving(original: Any) -> Any:
    @functools.wraps(original)
    def save_base(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not active():
            return original(self, *args, **kwargs)
        token = SAVING.set(type(self)._meta.label)
        try:
            return original(self, *args, **kwargs)
        finally:
            SAVING.reset(token)

    return save_base


def watch_manager(manager_class: type) -> None:
    """Mark the write methods of a related manager class Django just built."""
    wrap = _operation("relation_write", writing=True)
    for name in MANAGER_WRITES:
        original = vars(manager_class).get(name)
        if original is not None:
            setattr(manager_class, name, wrap(original))


def install() -> None:
    if _patches:
        return
    _patches.wrap(Collector, "collect", _deletion(writing=True))
    _patches.wrap(Collector, "delete", _deletion(writing=False))
    _patches.wrap(QuerySet, "bulk_create", _bulk)
    _patches.wrap(QuerySet, "bulk_update", _bulk)
    _patches.wrap(QuerySet, "in_bulk", _operation("bulk", writing=False))
    for name in GET_OR_CREATE_METHODS:
        _patches.wrap(QuerySet, name, _operation("get_or_create", writing=False))
    _patches.wrap(Model, "save_base", _saving)


def uninstall() -> None:
    _patches.undo()
