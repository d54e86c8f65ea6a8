"""Keyset paging: how a queryset is cut into batches, memory flat however many rows.

Each batch is one query: the caller's queryset, ordered by its key, after the
last key of the batch before (``WHERE (key) > (last) ORDER BY key LIMIT
size``). Unlike ``Paginator`` it never counts nor skips rows with OFFSET (whose
cost grows with the page), and unlike ``iterator()`` it needs no server-side
cursor (which MySQL drivers and transaction-pooling proxies do not keep) and
keeps ``prefetch_related``: each batch is a queryset of its own, so its
prefetches run for its rows.

The key is the primary key by default, or any unique field or unique
combination of fields (``key=("partner", "sku")``), ascending or descending
(``key="-created_at"`` when ``created_at`` is unique). A nullable key field is
refused: ``WHERE key > last`` skips NULLs. Rows come in key order: the
queryset's own ``order_by`` is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import Model, Q, QuerySet


class BatchError(ValueError):
    """A queryset or key djperf.batched() cannot page through (says why)."""


class _Key:
    """The key fields of a keyset: their names, directions and model fields."""

    def __init__(self, queryset: QuerySet[Any], key: str | Sequence[str] | None) -> None:
        model = queryset.model
        self.pk_name = model._meta.pk.name if model._meta.pk is not None else "pk"
        names = [key] if isinstance(key, str) else list(key or ("pk",))
        if not names:
            raise BatchError("key must name at least one field")
        self.descending = [name.startswith("-") for name in names]
        fields = [_field(model, name.lstrip("-")) for name in names]
        # By field name: "partner_id" and "partner" are one key field.
        self.names = [field.name for field in fields]
        for field in fields:
            if getattr(field, "null", False):
                raise BatchError(
                    f"{model.__name__}.{field.name} can be NULL: a keyset skips NULL keys; "
                    "page on a key that cannot be NULL (the primary key by default)"
                )
        if not _unique(model, self.names):
            raise BatchError(
                f"{model.__name__}: ({', '.join(self.names)}) is not unique: rows sharing a "
                "key would be skipped; page on the primary key, a unique field, or a "
                "unique_together / UniqueConstraint combination"
            )
        # Columns, not relations: ordering by a foreign key would order by
        # the related model's Meta.ordering, and no longer by the key.
        self.attnames = [getattr(f, "attname", f.name) for f in fields]
        pairs = zip(self.attnames, self.descending, strict=True)
        self.ordering = [f"-{name}" if down else name for name, down in pairs]

    def after(self, last: tuple[Any, ...]) -> Q:
        """Rows after `last` in key order: (a > x) | (a = x & b > y) | ..."""
        from django.db.models import Q

        condition = Q()
        for index, name in enumerate(self.attnames):
            step = Q(**{f"{name}__{'lt' if self.descending[index] else 'gt'}": last[index]})
            for earlier in range(index):
                step &= Q(**{self.attnames[earlier]: last[earlier]})
            condition |= step
        return condition


def _field(model: type[Model], name: str) -> Any:
    from django.core.exceptions import FieldDoesNotExist

    if name == "pk":
        return model._meta.pk
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        raise BatchError(f"{model.__name__} has no field {name!r} to page on") from None


def _unique(model: type[Model], names: list[str]) -> bool:
    wanted = set(names)
    fields = [model._meta.get_field(name) for name in names]
    # One unique field among the key makes the whole key unique.
    if any(getattr(f, "primary_key", False) or getattr(f, "unique", False) for f in fields):
        return True
    # The fields of a composite primary key (Django 5.2+).
    composite = getattr(model._meta.pk, "fields", None) or []
    if composite and {f.name for f in composite} <= wanted:
        return True
    together = [set(group) for group in model._meta.unique_together]
    from django.db.models import UniqueConstraint

    together += [
        set(constraint.fields)
        for constraint in model._meta.constraints
        if isinstance(constraint, UniqueConstraint)
        and constraint.fields
        and constraint.condition is None
    ]
    return any(group <= wanted for group in together)


def _prepared(queryset: QuerySet[Any], key: _Key) -> tuple[QuerySet[Any], str]:
    """The queryset ordered by the key; which rows it yields ("models",
    "values", "values_list", "flat")."""
    query = queryset.query
    if query.is_sliced:
        raise BatchError("a sliced queryset cannot be paged: filter it instead of slicing it")
    if query.combinator:
        raise BatchError(
            f"a {query.combinator}() of querysets cannot be paged (it cannot be filtered "
            "after the last key): page each queryset, or filter one queryset with Q objects"
        )
    if isinstance(query.distinct_fields, (list, tuple)) and query.distinct_fields:
        raise BatchError(
            "distinct(*fields) needs its fields first in ORDER BY, where the key must be: "
            "use distinct() without fields, or page on those fields"
        )
    iterable = queryset._iterable_class.__name__
    shape = {
        "ModelIterable": "models",
        "ValuesIterable": "values",
        "ValuesListIterable": "values_list",
        "NamedValuesListIterable": "values_list",
        "FlatValuesListIterable": "flat",
    }.get(iterable)
    if shape is None:
        raise BatchError(f"djperf.batched() cannot page a queryset yielding {iterable} rows")
    ordered = queryset.order_by(*key.ordering)
    # reverse() flips every ORDER BY while the page condition stays "after":
    # the key's own direction is the order.
    ordered.query.standard_ordering = True
    return ordered, shape


def _last_key(row: Any, shape: str, key: _Key, fields: list[str]) -> tuple[Any, ...]:
    if shape == "models":
        return tuple(getattr(row, attname) for attname in key.attnames)
    if shape == "values":
        try:
            return tuple(
                row[_column(row, name, attname, key.pk_name)]
                for name, attname in zip(key.names, key.attnames, strict=True)
            )
        except KeyError:
            raise BatchError(
                f"values() must include the key field(s) {', '.join(key.names)} to be paged"
            ) from None
    if shape == "flat":
        if fields not in (key.names, key.attnames):
            raise BatchError(
                f"values_list(flat=True) can be paged only on its own field; add "
                f"{', '.join(key.names)} to values_list() or page with key={fields[0]!r}"
            )
        return (row,)
    try:
        return tuple(
            row[fields.index(attname) if attname in fields else fields.index(name)]
            for name, attname in zip(key.names, key.attnames, strict=True)
        )
    except ValueError:
        raise BatchError(
            f"values_list() must include the key field(s) {', '.join(key.names)} to be paged"
        ) from None


def _column(row: dict[str, Any], name: str, attname: str, pk_name: str) -> str:
    """Where a values() row holds a key field: its column, its name, or "pk"."""
    if attname in row:
        return attname
    if name == pk_name and name not in row:
        return "pk"
    return name


def _selected(queryset: QuerySet[Any]) -> list[str]:
    """The field names values()/values_list() selected, in the rows' order."""
    query = queryset.query
    pk = queryset.model._meta.pk
    # Django 5.2+ keeps the caller's order (annotations may come first).
    selected = getattr(query, "selected", None)
    if selected:
        names = list(selected)
    else:
        fields = list(query.values_select) or [
            f.attname for f in queryset.model._meta.concrete_fields
        ]
        names = [*query.extra_select, *fields, *query.annotation_select]
    # values_list("pk", ...) selects the primary key under its alias.
    return [pk.name if name == "pk" and pk is not None else name for name in names]


class Plan:
    """A queryset checked and ordered for paging."""

    def __init__(self, queryset: QuerySet[Any], size: int, key: str | Sequence[str] | None) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise BatchError(f"size must be a whole number of rows, 1 or more, not {size!r}")
        self.size = size
        self.key = _Key(queryset, key)
        self.ordered, self.shape = _prepared(queryset, self.key)
        self.fields = _selected(queryset) if self.shape != "models" else []

    def page(self, last: tuple[Any, ...] | None) -> QuerySet[Any]:
        """The next batch's queryset: the rows after `last` (None: the first)."""
        rows = self.ordered if last is None else self.ordered.filter(self.key.after(last))
        return rows[: self.size]

    def last_key(self, rows: list[Any]) -> tuple[Any, ...]:
        # Read before the batch is handed out: the caller may change its rows.
        return _last_key(rows[-1], self.shape, self.key, self.fields)
