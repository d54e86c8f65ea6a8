"""Which wide columns were read: the raw material of unused-column.

A wide column is a text, binary or JSON field: unbounded, so a list that loads
it for every row and never shows it reads kilobytes per row for nothing
(seed 003's ``defer('seo_text')``). A loaded field's value sits in the
instance's ``__dict__`` and Django reads it without any call djperf could
see, so a read can only be seen by putting a data descriptor on the model
class for that field: it serves the value from ``__dict__`` and notes the
read on the evaluation the instance came from.

That descriptor costs a Python call on every read and every store of the
field, so it is installed only where it pays:

- when a wide field of a row of an evaluation under a capture holds at least
  ``WATCH_FROM`` characters (or bytes); one row stands for all;
- for a queryset's own fetch (``for``, ``list()``, a template), from its last
  row on, judged once all are built: no row reaches user code before that,
  and building the rows costs nothing more. For ``iterator()``, whose rows
  reach user code one by one, from its first row on;
- until every evaluation watching the field has read it (a list that reads it
  on every row pays for one watched read), and at most until the last capture
  closes.

Models whose wide fields hold small values, and djperf idle, pay nothing.

Reads made while a row is built (a ``post_init`` receiver, an ``__init__`` or
``from_db`` of the model's own) happen before the descriptor is there or
before the row is tagged: such models are not judged at all, rather than
judged wrongly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from djperf._errors import contain
from djperf.record.events import Evaluation
from djperf.record.tags import provenance_of

# A sampled row's value at least this long makes its field watched.
WATCH_FROM = 256
WIDE_FIELDS = (models.TextField, models.BinaryField, models.JSONField)

# (name, attname, size in the sampled row) of a field to watch.
Wide = tuple[str, str, int]

_lock = threading.RLock()
# model -> its wide concrete fields, as (name, attname) pairs.
_wide: dict[Any, tuple[tuple[str, str], ...]] = {}
# (class, attname) -> the descriptor installed there.
_watching: dict[tuple[Any, str], WatchedColumn] = {}
# Whether a capture is open: a fetch that ends after the last one closed
# (in a thread that outlived it) must not install anything.
_open = False


def wide_fields(model: Any) -> tuple[tuple[str, str], ...]:
    """The wide fields of `model` read through Django's plain descriptor;
    none when the model builds its instances with code of its own."""
    found = _wide.get(model)
    if found is None:
        builds_its_own = any(
            _class_attribute(model, name) is not vars(models.Model)[name]
            for name in ("__init__", "from_db")
        )
        found = (
            ()
            if builds_its_own
            else tuple(
                (field.name, field.attname)
                for field in model._meta.concrete_fields
                if isinstance(field, WIDE_FIELDS)
                # WatchedColumn: watched already, through a parent model.
                and type(_class_attribute(model, field.attname))
                in (DeferredAttribute, WatchedColumn)
            )
        )
        _wide[model] = found
    return found


def _owner(model: Any, name: str) -> Any:
    """The class of `model`'s MRO that defines `name`, or None."""
    return next((klass for klass in model.__mro__ if name in klass.__dict__), None)


def _class_attribute(model: Any, name: str) -> Any:
    owner = _owner(model, name)
    return None if owner is None else owner.__dict__[name]


def judge_last_row(
    instance: Any, evaluation: Evaluation, fields: tuple[tuple[str, str], ...]
) -> None:
    """For a queryset's own fetch (``QuerySet._fetch_all``), which builds
    every row before user code sees one: judge the last row, `instance`, once
    all are built, and watch from then on. Nothing is added per row."""
    try:
        _watch(type(instance), _judge(instance, fields), evaluation)
    except Exception:
        contain("wide columns")


def streaming(
    rows: Iterator[Any], evaluation: Evaluation, fields: tuple[tuple[str, str], ...]
) -> Iterator[Any]:
    """For ``iterator()``, whose rows reach user code one by one: `rows`,
    with the first one judged and its wide fields watched before it is
    handed out. Errors of the rows themselves (the database's) propagate."""
    first = next(rows, None)
    if first is None:
        return
    try:
        _watch(type(first), _judge(first, fields), evaluation)
    except Exception:
        contain("wide columns")
    yield first
    yield from rows


def _judge(instance: Any, fields: tuple[tuple[str, str], ...]) -> list[Wide]:
    """The fields holding large values in `instance` (one row stands for all)."""
    wide = []
    values = instance.__dict__
    for name, attname in fields:
        if attname in values:  # else deferred by this queryset
            size = _size(values[attname])
            if size >= WATCH_FROM:
                wide.append((name, attname, size))
    return wide


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | bytearray | memoryview):
        return len(value)
    if value is None:
        return 0
    return len(repr(value))  # JSON: about its length on the wire


def _watch(model: Any, wide: Iterable[Wide], evaluation: Evaluation) -> None:
    """Watch reads of `wide` on `evaluation`'s rows; a field is recorded as
    loaded only once its reads are watched, so it is never called unused
    unseen."""
    with _lock:
        if not _open:
            return
        for name, attname, size in wide:
            if _watch_one(model, attname, evaluation):
                if evaluation.wide_columns is None:
                    evaluation.wide_columns = {}
                evaluation.wide_columns[name] = size


def _watch_one(model: Any, attname: str, evaluation: Evaluation) -> bool:
    owner = _owner(model, attname)
    if owner is None:
        return False
    column = _watching.get((owner, attname))
    if column is None:
        original = owner.__dict__[attname]
        if type(original) is not DeferredAttribute:
            return False  # replaced by someone else since wide_fields() looked
        column = _watching[(owner, attname)] = WatchedColumn(original.field, owner, original)
        setattr(owner, attname, column)
    column.pending.add(evaluation)
    return True


def _unwatch(column: WatchedColumn) -> None:
    """Put Django's descriptor back (the lock is held)."""
    attname = column.field.attname
    column.pending.clear()
    if _watching.get((column.owner, attname)) is column:
        del _watching[(column.owner, attname)]
        # Unless someone replaced it meanwhile (a mock): theirs stays.
        if column.owner.__dict__.get(attname) is column:
            setattr(column.owner, attname, column.original)


class WatchedColumn(DeferredAttribute):
    """A loaded field's value, served from the instance and its read noted.

    ``pending`` holds the evaluations whose rows have not read the field yet:
    once each has, nothing is left to learn and Django's descriptor goes back.
    """

    def __init__(self, field: Any, owner: Any, original: DeferredAttribute) -> None:
        super().__init__(field)
        self.owner = owner
        self.original = original
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

    # A data descriptor, so that reads come here rather than to __dict__;
    # stores and deletions do what they do without it.
    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value

    def __delete__(self, instance: Any) -> None:
        try:
            del instance.__dict__[self.field.attname]
        except KeyError:
            raise AttributeError(self.field.attname) from None


def _note_read(instance: Any, column: WatchedColumn) -> None:
    source = provenance_of(instance)
    # A select_related instance shares its parent's evaluation, which judged
    # only the parent model's columns.
    if source is None or source.how == "select_related":
        return
    evaluation = source.evaluation
    if evaluation is None or evaluation not in column.pending:
        return
    if evaluation.read_columns is None:
        evaluation.read_columns = set()
    evaluation.read_columns.add(column.field.name)
    with _lock:
        column.pending.discard(evaluation)
        if not column.pending:
            _unwatch(column)


def opened() -> None:
    """The first capture opened."""
    global _open
    with _lock:
        _open = True


def release() -> None:
    """The last capture closed: put Django's descriptors back."""
    global _open
    with _lock:
        _open = False
        for column in list(_watching.values()):
            _unwatch(column)


def install() -> None:
    """Nothing until a capture reads a wide column (see _watch)."""


def uninstall() -> None:
    release()
    _wide.clear()
