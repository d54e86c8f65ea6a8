"""Where a batch job notes how far it got, so a killed run continues there.

After each batch the job saves its position (the last key it finished, and
its counts). Run again with the same checkpoint, it starts after that key;
finished, it clears the checkpoint, so the next run starts from the top.

Three places, the user picks:

- ``TableCheckpoint(name)``: a row in a small table (``djperf_batch_checkpoint``,
  created on first use) of the job's own database, written **in the batch's
  transaction**: a batch's writes and its position commit together, so after
  a kill (SIGKILL included) every row is written exactly once.
- ``FileCheckpoint(path)`` and ``CacheCheckpoint(name)``: written just after
  the batch commits. A kill between the commit and that write runs the last
  batch again: every row at least once, exactly once when ``fn`` is idempotent
  (it sets values from the row's own data rather than incrementing them).

A checkpoint belongs to one job: the model, the key and the query's SQL (not
its parameter values: "older than now" differs at each run). Resuming with
another job's checkpoint is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djperf.batch.keyset import BatchError

if TYPE_CHECKING:
    from django.db.models import QuerySet

TABLE = "djperf_batch_checkpoint"


class Checkpoint:
    """The interface of the three places: load, save, clear."""

    #: True when save() runs inside the batch's transaction (exactly once).
    in_transaction = False

    def load(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def save(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def prepare(self, using: str) -> None:
        """Called once before the first batch, with the job's database alias."""


class FileCheckpoint(Checkpoint):
    """A JSON file, replaced whole at each save (never half written)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"FileCheckpoint({str(self.path)!r})"

    def load(self) -> dict[str, Any] | None:
        try:
            loaded: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return loaded

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(state, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class CacheCheckpoint(Checkpoint):
    """A key in one of settings.CACHES (shared by machines when the cache is:
    Redis, Memcached, the database cache), kept until cleared."""

    def __init__(self, name: str, alias: str = "default") -> None:
        self.name = name
        self.alias = alias

    def __repr__(self) -> str:
        return f"CacheCheckpoint({self.name!r}, alias={self.alias!r})"

    def _cache(self) -> Any:
        from django.core.cache import caches

        return caches[self.alias]

    @property
    def key(self) -> str:
        return f"djperf:batch:{self.name}"

    def load(self) -> dict[str, Any] | None:
        raw = self._cache().get(self.key)
        return None if raw is None else dict(json.loads(raw))

    def save(self, state: dict[str, Any]) -> None:
        self._cache().set(self.key, json.dumps(state), timeout=None)

    def clear(self) -> None:
        self._cache().delete(self.key)


class TableCheckpoint(Checkpoint):
    """A row of ``djperf_batch_checkpoint`` in the job's database (or `using`),
    saved in the batch's transaction. The table is made on first use; no
    migration, no INSTALLED_APPS entry."""

    in_transaction = True

    def __init__(self, name: str, using: str | None = None) -> None:
        if len(name) > 191:
            raise ValueError("a TableCheckpoint name is at most 191 characters")
        self.name = name
        self.using = using
        # The state text this run last read or wrote (None: no row).
        self._known: str | None = None

    def __repr__(self) -> str:
        return f"TableCheckpoint({self.name!r})"

    def _connection(self) -> Any:
        from django.db import connections

        return connections[self.using or "default"]

    def prepare(self, using: str) -> None:
        from django.db import DatabaseError

        if self.using is None:
            self.using = using
        elif self.using != using:
            # Another database's row would not commit with the batch.
            self.in_transaction = False
        connection = self._connection()
        if TABLE in connection.introspection.table_names():
            return
        quote = connection.ops.quote_name
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {quote(TABLE)} ("
                    f"{quote('name')} VARCHAR(191) NOT NULL PRIMARY KEY, "
                    f"{quote('state')} TEXT NOT NULL)"
                )
        except DatabaseError:
            # Two workers creating it at once: one wins, which is enough.
            if TABLE not in connection.introspection.table_names():
                raise

    def load(self) -> dict[str, Any] | None:
        connection = self._connection()
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('state')} FROM {quote(TABLE)} WHERE {quote('name')} = %s",
                [self.name],
            )
            row = cursor.fetchone()
        self._known = None if row is None else str(row[0])
        return None if self._known is None else dict(json.loads(self._known))

    def save(self, state: dict[str, Any]) -> None:
        """Compare and set: the row must still hold what this run last read
        or wrote. A second run of the same job at the same time finds it
        changed, and its batch fails (and rolls back) instead of writing
        the rows the first run writes."""
        from django.db import IntegrityError

        connection = self._connection()
        quote = connection.ops.quote_name
        text = json.dumps(state)
        with connection.cursor() as cursor:
            if self._known is None:
                try:
                    cursor.execute(
                        f"INSERT INTO {quote(TABLE)} ({quote('name')}, {quote('state')}) "
                        "VALUES (%s, %s)",
                        [self.name, text],
                    )
                except IntegrityError:
                    raise _concurrent(self) from None
            else:
                cursor.execute(
                    f"UPDATE {quote(TABLE)} SET {quote('state')} = %s "
                    f"WHERE {quote('name')} = %s AND {quote('state')} = %s",
                    [text, self.name, self._known],
                )
                if cursor.rowcount == 0:
                    raise _concurrent(self)
        self._known = text

    def clear(self) -> None:
        connection = self._connection()
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {quote(TABLE)} WHERE {quote('name')} = %s", [self.name])
        self._known = None


def _concurrent(checkpoint: Checkpoint) -> Exception:
    return BatchError(
        f"{checkpoint!r} was changed by another run of this job while this one ran: "
        "run one at a time (this batch was rolled back)"
    )


def job_id(queryset: QuerySet[Any], key: Sequence[str], kind: str) -> str:
    """What a checkpoint belongs to: the kind of job, the model, the key and
    the query's SQL without its parameter values."""
    from django.core.exceptions import EmptyResultSet

    try:
        sql, _params = queryset.query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # filter(pk__in=[]), none(): no SQL, no rows
        sql = "(no rows)"
    text = "\n".join([kind, queryset.model._meta.label, ",".join(key), sql])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(last: tuple[Any, ...]) -> list[Any]:
    """A key as JSON values. Dates and times in full ISO form: a key cut to
    milliseconds (as DjangoJSONEncoder writes times) would resume before or
    after rows of the same millisecond."""
    return [_json_value(value) for value in last]


def _json_value(value: Any) -> Any:
    import datetime
    import decimal
    import uuid

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    raise TypeError(f"a key value of type {type(value).__name__} cannot be kept in a checkpoint")


def decode(values: list[Any], fields: Sequence[Any]) -> tuple[Any, ...]:
    """The key back in Python values, by its fields' own parsing."""
    return tuple(
        field.target_field.to_python(value) if field.is_relation else field.to_python(value)
        for value, field in zip(values, fields, strict=True)
    )
