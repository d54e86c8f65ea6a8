"""Writes on big tables in batches: update_in_batches(), delete_in_batches(),
bulk_create_with_m2m().

Each batch of update_in_batches() and delete_in_batches() is read and written
in a transaction of its own, on the database Django writes the model to (so
rows are never read from a lagging replica and written to the primary): a
failure or a kill loses at most the batch in progress, and with a checkpoint
the job continues from the last committed batch (checkpoint.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, TypeVar

from djperf.batch.checkpoint import Checkpoint
from djperf.batch.job import BatchResult, Job, write_alias
from djperf.batch.keyset import BatchError, Plan
from djperf.batch.update_sql import statement_for

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet

M = TypeVar("M", bound="Model")

METHODS = ("auto", "values", "bulk_update")


def update_in_batches(
    queryset: QuerySet[M],
    fn: Callable[[M], Any],
    fields: Sequence[str],
    size: int = 1000,
    *,
    key: str | Sequence[str] | None = None,
    checkpoint: Checkpoint | None = None,
    progress: bool | IO[str] | None = None,
    total: int | None = None,
    method: str = "auto",
) -> BatchResult:
    """Call ``fn(obj)`` on each row of `queryset` and write `fields` back,
    `size` rows per batch, each batch in one transaction.

    `fn` changes the object in Python; returning ``False`` leaves that row
    unwritten. Like ``bulk_update``, no ``save()``, no signals, no
    ``auto_now``: only `fields` are written, with the fastest statement the
    backend has (update_sql.py; ``method="bulk_update"`` forces Django's).
    """
    if method not in METHODS:
        raise BatchError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if queryset._iterable_class.__name__ != "ModelIterable":
        raise BatchError("update_in_batches() needs model instances, not values() rows")
    model = queryset.model
    targets = _update_fields(model, fields)
    using = write_alias(queryset)
    queryset = queryset.using(using)
    plan = Plan(queryset, size, key)
    overlap = [f.name for f in targets if f.name in plan.key.names]
    if overlap:
        raise BatchError(
            f"{', '.join(overlap)} is the key the job pages on: changing it would move rows "
            "past the next page or back before it; page on another key (the primary key)"
        )
    job = Job(plan, "update", using, checkpoint, progress, total)

    from django.db import connections

    statement = None
    if method != "bulk_update":
        statement = statement_for(model, targets, connections[using])
    if method == "values" and statement is None:
        raise BatchError(
            f"{connections[using].vendor} cannot write {model.__name__} with one "
            "UPDATE ... FROM VALUES (see docs/batch.md); use method='auto'"
        )
    names = [field.name for field in targets]

    def write(rows: list[Any]) -> tuple[int, dict[str, int]]:
        changed = [obj for obj in rows if fn(obj) is not False]
        return _write(model, changed, names, statement, using), {}

    return job.write_batches(write)


def _write(
    model: type[Model], objs: list[Any], names: list[str], statement: Any, using: str
) -> int:
    if not objs:
        return 0
    if statement is not None and not any(
        hasattr(getattr(obj, field.attname), "resolve_expression")
        for obj in objs
        for field in statement.fields
    ):
        written: int = statement.write(objs)
        return written
    # F() expressions and backends without a VALUES join: Django's own.
    return int(model._base_manager.using(using).bulk_update(objs, names))


def _update_fields(model: type[Model], names: Sequence[str]) -> list[Any]:
    from django.core.exceptions import FieldDoesNotExist

    if isinstance(names, str) or not names:
        raise BatchError("fields must be a list of the field names fn changes, e.g. ['price']")
    found = []
    for name in names:
        try:
            field: Any = model._meta.get_field(name)
        except FieldDoesNotExist:
            raise BatchError(f"{model.__name__} has no field {name!r}") from None
        if not getattr(field, "concrete", False) or field.many_to_many:
            raise BatchError(
                f"{model.__name__}.{name} is not a column of the table: update_in_batches() "
                "writes columns (many-to-many relations have their own table)"
            )
        if getattr(field, "primary_key", False):
            raise BatchError(f"{model.__name__}.{name} is the primary key: it cannot be updated")
        found.append(field)
    return found


def delete_in_batches(
    queryset: QuerySet[Any],
    size: int = 1000,
    *,
    key: str | Sequence[str] | None = None,
    fast: bool = False,
    checkpoint: Checkpoint | None = None,
    progress: bool | IO[str] | None = None,
    total: int | None = None,
) -> BatchResult:
    """Delete the rows of `queryset`, `size` at a time: each batch's primary
    keys are read, then deleted with ``filter(pk__in=...)`` (never an IN
    list longer than `size`), in one transaction per batch.

    Django's delete runs for each batch, so ``on_delete`` cascades and the
    pre_delete/post_delete signals are honoured as ``queryset.delete()``
    would. ``fast=True`` asks for plain DELETE statements only: a model whose
    deletion would run signals or cascade is refused, with what would run.
    """
    model = queryset.model
    if queryset._iterable_class.__name__ != "ModelIterable":
        raise BatchError("delete_in_batches() takes a queryset of models, not values() rows")
    using = write_alias(queryset)
    queryset = queryset.using(using)
    if fast:
        _refuse_slow_delete(queryset, using)
    pk = model._meta.pk
    assert pk is not None
    probe = Plan(queryset, size, key)
    columns = list(dict.fromkeys([*probe.key.attnames, pk.attname]))
    plan = Plan(queryset.values_list(*columns), size, key)
    job = Job(plan, "delete", using, checkpoint, progress, total)
    at = columns.index(pk.attname)

    base = model._base_manager.using(using)

    def delete(rows: list[Any]) -> tuple[int, dict[str, int]]:
        deleted, per_model = base.filter(pk__in=[row[at] for row in rows]).delete()
        return int(deleted), dict(per_model)

    return job.write_batches(delete)


def _refuse_slow_delete(queryset: QuerySet[Any], using: str) -> None:
    """fast=True: say what a plain DELETE would skip, or return."""
    from django.db.models import signals
    from django.db.models.deletion import Collector, get_candidate_relations_to_delete

    if Collector(using=using, origin=queryset).can_fast_delete(queryset):
        return
    model = queryset.model
    reasons = [
        f"{signal_name} receivers"
        for signal_name in ("pre_delete", "post_delete", "m2m_changed")
        if getattr(signals, signal_name).has_listeners(model)
    ]
    relation: Any
    for relation in get_candidate_relations_to_delete(model._meta):
        on_delete = relation.field.remote_field.on_delete
        if on_delete.__name__ != "DO_NOTHING":
            reasons.append(
                f"{relation.related_model._meta.label}.{relation.field.name} "
                f"(on_delete={on_delete.__name__})"
            )
    if any(getattr(field, "bulk_related_objects", None) for field in model._meta.private_fields):
        reasons.append("generic relations")
    raise BatchError(
        f"fast=True: deleting {model.__name__} runs more than a DELETE: "
        f"{', '.join(reasons) or 'related objects to collect'}; "
        "drop fast=True to let Django's delete honour them batch by batch"
    )


def bulk_create_with_m2m(
    objects: Sequence[M],
    m2m: Mapping[str, Sequence[Iterable[Any]] | Callable[[M], Iterable[Any]]],
    size: int = 1000,
    *,
    using: str | None = None,
    match_on: Sequence[str] | None = None,
) -> list[M]:
    """``bulk_create`` the objects and their many-to-many rows, in one
    transaction: one INSERT per `size` objects, one per `size` links.

    `m2m` maps each many-to-many field name to the related objects (or their
    primary keys) of each object: a list in the objects' order, or a function
    of the object::

        bulk_create_with_m2m(pizzas, {"toppings": [[cheese, basil], [cheese]]})
        bulk_create_with_m2m(stats, {"tags": lambda stat: stat.pending_tags})

    Like ``bulk_create``, no ``save()`` and no signals (m2m_changed
    included). The links need the new rows' primary keys: PostgreSQL, SQLite
    3.35+ and MariaDB 10.5+ return them; elsewhere (MySQL) give the objects
    their keys, or name in `match_on` fields whose values are unique together
    among the new rows, by which they are read back (one query per `size`).
    """
    from django.db import connections, router, transaction

    objs = list(objects)
    if not objs:
        return objs
    model = type(objs[0])
    links = [_m2m_field(model, name) for name in m2m]
    for field in links:
        given = m2m[field.name]
        if not callable(given) and len(given) != len(objs):
            raise BatchError(
                f"m2m[{field.name!r}] has {len(given)} entries for {len(objs)} objects: "
                "give one list of related objects per object, in the objects' order"
            )
    using = using or router.db_for_write(model)
    connection = connections[using]
    read_back = not connection.features.can_return_rows_from_bulk_insert and any(
        obj.pk is None for obj in objs
    )
    if read_back and not match_on:
        raise BatchError(
            f"{connection.display_name} does not return the primary keys of a bulk insert, "
            "which the many-to-many rows need: give the objects their primary keys first, "
            "or match_on=(fields unique together among them) to read the keys back"
        )
    with transaction.atomic(using=using):
        created = model._base_manager.using(using).bulk_create(objs, batch_size=size)
        if read_back:
            _read_keys_back(model, created, list(match_on or ()), size, using)
        for field in links:
            _link(model, created, field, m2m[field.name], size, using)
    return created


def _link(
    model: type[Model], created: list[Any], field: Any, related: Any, size: int, using: str
) -> None:
    """The through rows of `field` for the created objects, in bulk."""
    through = field.remote_field.through
    source = through._meta.get_field(field.m2m_field_name())
    target = through._meta.get_field(field.m2m_reverse_field_name())
    symmetric = field.remote_field.symmetrical and field.remote_field.model == model
    # Each through foreign key stores its target field (the primary key, or
    # the to_field it names).
    pairs: dict[tuple[Any, Any], None] = {}
    for index, obj in enumerate(created):
        mine = getattr(obj, source.target_field.attname)
        targets = related(obj) if callable(related) else related[index]
        for value in targets:
            theirs = _value(value, target.target_field.attname, field)
            pairs[(mine, theirs)] = None
            if symmetric:
                # Both directions, as .add() writes them; once each even when
                # two new objects name each other.
                pairs[(theirs, mine)] = None
    rows = [through(**{source.attname: a, target.attname: b}) for a, b in pairs]
    through._base_manager.using(using).bulk_create(rows, batch_size=size)


def _read_keys_back(
    model: type[Model], created: list[Any], match_on: list[str], size: int, using: str
) -> None:
    """Set the primary keys of rows the backend did not return, by the
    values of `match_on` (unique together among the new rows)."""
    fields = [model._meta.get_field(name) for name in match_on]
    columns = [getattr(field, "attname", field.name) for field in fields]
    pk = model._meta.pk
    assert pk is not None
    for start in range(0, len(created), size):
        chunk = created[start : start + size]
        wanted = {tuple(getattr(obj, column) for column in columns): obj for obj in chunk}
        if len(wanted) != len(chunk):
            raise BatchError(
                f"match_on={tuple(match_on)} is not unique among the new "
                f"{model.__name__} rows: their keys cannot be read back"
            )
        first = columns[0]
        found = model._base_manager.using(using).filter(
            **{f"{first}__in": {values[0] for values in wanted}}
        )
        for row in found.values_list(pk.attname, *columns):
            obj = wanted.get(tuple(row[1:]))
            if obj is not None and obj.pk is None:
                obj.pk = row[0]
        missing = [obj for obj in chunk if obj.pk is None]
        if missing:
            raise BatchError(
                f"{len(missing)} new {model.__name__} rows were not found again by "
                f"match_on={tuple(match_on)}"
            )


def _m2m_field(model: type[Model], name: str) -> Any:
    from django.core.exceptions import FieldDoesNotExist

    try:
        field: Any = model._meta.get_field(name)
    except FieldDoesNotExist:
        raise BatchError(f"{model.__name__} has no field {name!r}") from None
    from django.db.models import ManyToManyField

    # The forward field (a reverse relation is no ManyToManyField); not
    # `concrete`, which Django 6.1 no longer sets on many-to-many fields.
    if not isinstance(field, ManyToManyField):
        raise BatchError(
            f"{model.__name__}.{name} is not a ManyToManyField of {model.__name__} "
            "(give the field as declared on the model)"
        )
    through: Any = field.remote_field.through
    if not through._meta.auto_created:
        known = {field.m2m_field_name(), field.m2m_reverse_field_name()}
        required = [
            other.name
            for other in through._meta.concrete_fields
            if other.name not in known
            and not other.primary_key
            and not other.null
            and not other.has_default()
        ]
        if required:
            raise BatchError(
                f"{through.__name__} (the through model of {model.__name__}.{name}) needs "
                f"{', '.join(required)} for each row: create its rows with bulk_create"
            )
    return field


def _value(value: Any, attname: str, field: Any) -> Any:
    """A related object's value for the through row (its primary key, or the
    to_field), or the value as given."""
    from django.db.models import Model

    if isinstance(value, Model):
        if value.pk is None:
            raise BatchError(
                f"an unsaved {type(value).__name__} in {field.name}: save the related objects first"
            )
        return getattr(value, attname)
    return value
