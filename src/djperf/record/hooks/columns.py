"""Which wide columns were read: the raw material of unused-column.

A wide column is a text, binary or JSON field: unbounded, so a list that loads
it for every row and never shows it reads kilobytes per row for nothing
(seed 003's ``defer('seo_text')``). A loaded field's value sits in the
instance's ``__dict__`` and Django reads it without any call djperf could
see, so a read can only be seen by putting a data descriptor on the model
class for that field: it serves the value from ``__dict__`` and notes the
read on the evaluation the instance came from.

That descriptor costs a Python call on every read and every store of the
field, so it is installed only where it pays: when an evaluation under a
capture builds its first row and a wide field of that row holds at least
``WATCH_FROM`` characters (or bytes). The first row is judged before it is
handed out, so every read of the evaluation's rows is seen. The descriptors
are removed when the last capture closes. Models whose wide fields hold small
values, and djperf idle, pay nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from djperf.record.events import Evaluation
from djperf.record.recorder import contain
from djperf.record.tags import provenance_of

# A first-row value at least this long makes its field watched.
WATCH_FROM = 256
WIDE_FIELDS = (models.TextField, models.BinaryField, models.JSONField)

_lock = threading.RLock()
# model -> its wide concrete fields, as (name, attname) pairs.
_wide: dict[Any, tuple[tuple[str, str], ...]] = {}


def wide_fields(model: Any) -> tuple[tuple[str, str], ...]:
    """The wide fields of `model` read through Django's plain descriptor."""
    found = _wide.get(model)
    if found is None:
        found = tuple(
            (field.name, field.attname)
            for field in model._meta.concrete_fields
            if isinstance(field, WIDE_FIELDS)
            # WatchedColumn: watched already, through a parent model.
            and type(_class_attribute(model, field.attname)) in (DeferredAttribute, WatchedColumn)
        )
        _wide[model] = found
    return found


def _class_attribute(model: Any, name: str) -> Any:
    for klass in model.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def watching_first_row(
    rows: Iterator[Any],
    evaluation: Evaluation,
    fields: tuple[tuple[str, str], ...],
    *,
    whole: bool,
) -> Iterator[Any]:
    """`rows`, after judging the wide values of the first one.

    `whole`: the rows are all built before any is handed to user code (a
    queryset's own fetch, as in a ``for`` loop or ``list()``), so the fields
    are watched from the last row on and building the rows costs nothing
    extra. Otherwise (``iterator()``) reads may come between rows: they are
    watched from the first row.
    """
    first = next(rows, None)
    if first is None:
        return
    wide: list[str] = []
    # Only a root evaluation's rows can be deferred at the line that built them.
    if evaluation.root is None and not evaluation.internal:
        try:
            wide = _judge(first, evaluation, fields)
            if not whole:
                _watch(type(first), wide, evaluation)
        except Exception:
            contain("wide columns")
    yield first
    yield from rows
    if wide and whole:
        try:
            _watch(type(first), wide, evaluation)
        except Exception:
            contain("wide columns")


def _judge(instance: Any, evaluation: Evaluation, fields: tuple[tuple[str, str], ...]) -> list[str]:
    """The attnames of `fields` holding large values in `instance`."""
    wide = []
    values = instance.__dict__
    for name, attname in fields:
        if attname not in values:  # deferred by this queryset
            continue
        size = _size(values[attname])
        if size >= WATCH_FROM:
            if evaluation.wide_columns is None:
                evaluation.wide_columns = {}
            evaluation.wide_columns[name] = size
            wide.append(attname)
    return wide


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | bytearray | memoryview):
        return len(value)
    if value is None:
        return 0
    return len(repr(value))  # JSON: about its length on the wire


# (class, attname) -> the descriptor installed there.
_watching: dict[tuple[Any, str], WatchedColumn] = {}


def _watch(model: Any, attnames: list[str], evaluation: Evaluation) -> None:
    for attname in attnames:
        _watch_one(model, attname, evaluation)


def _watch_one(model: Any, attname: str, evaluation: Evaluation) -> None:
    owner = next(klass for klass in model.__mro__ if attname in klass.__dict__)
    with _lock:
        column = _watching.get((owner, attname))
        if column is None:
            original = owner.__dict__[attname]
            if type(original) is not DeferredAttribute:
                return  # replaced by someone else since wide_fields() looked
            column = _watching[(owner, attname)] = WatchedColumn(original.field)
            column.original = original
            setattr(owner, attname, column)
            column.owner = owner
        column.pending.add(evaluation)


def _unwatch(column: WatchedColumn) -> None:
    """Put Django's descriptor back (the lock is held)."""
    key = (column.owner, column.field.attname)
    if _watching.get(key) is column:
        del _watching[key]
        setattr(column.owner, column.field.attname, column.original)


class WatchedColumn(DeferredAttribute):
    """A loaded field's value, served from the instance and its read noted.

    ``pending`` holds the evaluations whose rows have not read the field yet:
    once each has, nothing is left to learn and Django's descriptor goes back,
    so a list that reads the field on every row pays for one read, not all.
    """

    owner: Any = None
    original: Any = None

    def __init__(self, field: Any) -> None:
        super().__init__(field)
        self.pending: set[Evaluation] = set()

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        try:
            value = instance.__dict__[self.field.attname]
        except KeyError:
            return super().__get__(instance, cls)  # deferred: Django loads it
        try:
            _note_read(instance, self)
        except Exception:
            contain("wide columns")
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


def _note_read(instance: Any, column: WatchedColumn) -> None:
    source = provenance_of(instance)
    # A select_related instance shares its parent's evaluation, which judged
    # only the parent model's columns.
    if source is None or source.how == "select_related":
        return
    evaluation = source.evaluation
    if evaluation is None or evaluation not in column.pending:
        return
    name = column.field.name
    if evaluation.read_columns is None:
        evaluation.read_columns = set()
    evaluation.read_columns.add(name)
    with _lock:
        column.pending.discard(evaluation)
        if not column.pending:
            _unwatch(column)


def release() -> None:
    """The last capture closed: put Django's descriptors back."""
    with _lock:
        for column in list(_watching.values()):
            _unwatch(column)


def uninstall() -> None:
    release()
    _wide.clear()
