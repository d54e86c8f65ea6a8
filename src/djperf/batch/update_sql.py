"""One UPDATE statement for many rows, each with its own values, per backend.

``bulk_update`` writes ``SET f = CASE WHEN pk = 1 THEN ... WHEN pk = 2 THEN
... END WHERE pk IN (...)``: the database evaluates a CASE of n branches for
each of n rows (quadratic; Django ticket #31202: 100,000 rows x 10 fields took
minutes). Here the rows travel as a table of values joined on the primary key,
which every backend runs as one indexed lookup per row:

- PostgreSQL: ``UPDATE t SET f = v.c1 FROM unnest(CAST(%s AS bigint[]),
  CAST(%s AS integer[])) AS v(c0, c1) WHERE t.pk = v.c0``: one array per
  column (``FROM (VALUES (...), ...)`` for array columns, which unnest()
  would flatten), each cast to its column's type;
- SQLite 3.33 and later: the same, its VALUES columns being column1, ...;
- MariaDB and MySQL: ``UPDATE t JOIN (SELECT ... UNION ALL SELECT ...) AS v
  ON t.pk = v.c0 SET t.f = v.c1`` (a derived table: their VALUES constructors
  name columns by the first row's values).

``statement_for()`` says None where none of these applies (another backend, an
older SQLite, a field of a parent model's table, a composite primary key);
the caller then uses bulk_update.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Field, Model


def statement_for(
    model: type[Model], fields: Sequence[Field[Any, Any]], connection: BaseDatabaseWrapper
) -> _Statement | None:
    """The writer of many-row UPDATEs of `fields` on this backend, or None."""
    pk = model._meta.pk
    if pk is None or not getattr(pk, "column", None):
        return None  # a composite primary key (Django 5.2+) has no one column
    concrete = model._meta.concrete_model
    if any(field.model._meta.concrete_model is not concrete for field in fields):
        return None  # a parent's field lives in the parent's table
    vendor = connection.vendor
    if vendor == "postgresql":
        return _Postgres(model, fields, connection)
    if vendor == "sqlite" and _sqlite_version() >= (3, 33):
        return _SQLite(model, fields, connection)
    if vendor == "mysql":
        return _MySQL(model, fields, connection)
    return None


def _sqlite_version() -> tuple[int, ...]:
    import sqlite3

    return sqlite3.sqlite_version_info


class _Statement:
    """Writes [(pk, value, ...), ...] rows with as few statements as the
    backend's parameter limit allows."""

    def __init__(
        self, model: type[Model], fields: Sequence[Field[Any, Any]], connection: BaseDatabaseWrapper
    ) -> None:
        self.connection = connection
        self.quote = connection.ops.quote_name
        self.table = self.quote(model._meta.db_table)
        self.pk: Any = model._meta.pk
        self.fields: list[Any] = list(fields)
        self.width = len(self.fields) + 1

    def prepared(self, obj: Model) -> list[Any]:
        """The object's primary key and field values, as the driver takes them."""
        assert self.pk is not None
        values = [self.pk.get_db_prep_value(obj.pk, self.connection, prepared=False)]
        values += [
            field.get_db_prep_save(getattr(obj, field.attname), self.connection)
            for field in self.fields
        ]
        return values

    def rows_per_statement(self) -> int:
        return 10_000

    def write(self, objs: Sequence[Model]) -> int:
        """UPDATE the rows of `objs`; the number of rows the database matched."""
        step = max(1, self.rows_per_statement())
        count = 0
        with self.connection.cursor() as cursor:
            for start in range(0, len(objs), step):
                rows = [self.prepared(obj) for obj in objs[start : start + step]]
                cursor.execute(self.sql(len(rows)), [value for row in rows for value in row])
                count += cursor.rowcount
        return count

    def sql(self, rows: int) -> str:
        raise NotImplementedError


class _Postgres(_Statement):
    def rows_per_statement(self) -> int:
        # A server-side bound statement takes at most 65,535 parameters.
        return 65_535 // self.width

    def _names(self) -> list[str]:
        return [f'"c{index}"' for index in range(self.width)]

    def _sets(self, names: list[str]) -> str:
        return ", ".join(
            f'{self.quote(field.column)} = "djperf_v".{names[index + 1]}'
            for index, field in enumerate(self.fields)
        )

    def write(self, objs: Sequence[Model]) -> int:
        """One array per column, joined by unnest(): a statement of as many
        parameters as columns whatever the rows, which PostgreSQL parses
        and psycopg builds in a fraction of the time of a VALUES list
        (docs/benchmarks.md). Array columns (ArrayField) would be flattened
        by unnest(): those take the VALUES list."""
        casts = [_cast(field, self.connection) for field in [self.pk, *self.fields]]
        if any(cast.endswith("]") for cast in casts) or not objs:
            return super().write(objs)
        rows = [self.prepared(obj) for obj in objs]
        columns = [list(column) for column in zip(*rows, strict=True)]
        names = self._names()
        arrays = ", ".join(f"CAST(%s AS {cast}[])" for cast in casts)
        sets = self._sets(names)
        sql = (
            f'UPDATE {self.table} SET {sets} FROM unnest({arrays}) AS "djperf_v" '
            f"({', '.join(names)}) WHERE {self.table}.{self.quote(self.pk.column)} "
            f'= "djperf_v".{names[0]}'
        )
        with self.connection.cursor() as cursor:
            cursor.execute(sql, columns)
            return int(cursor.rowcount)

    def sql(self, rows: int) -> str:
        assert self.pk is not None
        casts = [_cast(field, self.connection) for field in [self.pk, *self.fields]]
        row = "(" + ", ".join(f"CAST(%s AS {cast})" for cast in casts) + ")"
        names = self._names()
        sets = self._sets(names)
        return (
            f"UPDATE {self.table} SET {sets} FROM (VALUES {', '.join([row] * rows)}) "
            f'AS "djperf_v" ({", ".join(names)}) WHERE {self.table}.{self.quote(self.pk.column)} '
            f'= "djperf_v".{names[0]}'
        )


def _cast(field: Any, connection: BaseDatabaseWrapper) -> str:
    """The type a value is cast to in VALUES: its column's, but a varchar
    without its length, so that a value too long fails as save() fails
    instead of being cut to the length by the cast."""
    cast = str(field.cast_db_type(connection))
    return re.sub(r"^varchar\(\d+\)", "varchar", cast)


class _SQLite(_Statement):
    def rows_per_statement(self) -> int:
        # The library's own limit (32,766 since 3.32), read from the
        # connection where Python can (3.11+); Django's 999 otherwise.
        limit = self.connection.features.max_query_params or 999
        raw = getattr(self.connection, "connection", None)
        if raw is not None and hasattr(raw, "getlimit"):
            import sqlite3

            limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return int(limit) // self.width

    def sql(self, rows: int) -> str:
        assert self.pk is not None
        row = "(" + ", ".join(["%s"] * self.width) + ")"
        sets = ", ".join(
            f'{self.quote(field.column)} = "djperf_v"."column{index + 2}"'
            for index, field in enumerate(self.fields)
        )
        return (
            f'UPDATE {self.table} SET {sets} FROM (VALUES {", ".join([row] * rows)}) AS "djperf_v" '
            f'WHERE {self.table}.{self.quote(self.pk.column)} = "djperf_v"."column1"'
        )


class _MySQL(_Statement):
    def sql(self, rows: int) -> str:
        assert self.pk is not None
        names = [f"`c{index}`" for index in range(self.width)]
        first = "SELECT " + ", ".join(f"%s AS {name}" for name in names)
        rest = " UNION ALL SELECT " + ", ".join(["%s"] * self.width)
        sets = ", ".join(
            f"{self.table}.{self.quote(field.column)} = `djperf_v`.{names[index + 1]}"
            for index, field in enumerate(self.fields)
        )
        return (
            f"UPDATE {self.table} INNER JOIN ({first}{rest * (rows - 1)}) AS `djperf_v` "
            f"ON {self.table}.{self.quote(self.pk.column)} = `djperf_v`.{names[0]} SET {sets}"
        )
