"""What the statement rules (repeated-query, duplicate-query) share: which
statements are the user's own reads, and how code names a model.

Statements that belong to a problem another rule names (a lazy load's queries
are the n-plus-one finding), and Django's own work (bookkeeping, prefetches,
deletions, bulk operations) are left out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from djperf.detect._models import short, statement_table
from djperf.record.events import Query
from djperf.record.scope import Recording

# Statements of these roles are never the user's repeated reads.
NOT_THE_USERS = frozenset(
    {"lazy_load", "prefetch", "bookkeeping", "delete", "bulk", "relation_write", "get_or_create"}
)
COUNT = re.compile(r"^SELECT COUNT\(\*\)", re.I)
_TABLES = re.compile(r"\b(?:FROM|JOIN)\s+([\w.\"`]+)", re.I)
_WRITE = re.compile(r"^\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


def user_reads(recording: Recording) -> list[Query]:
    """The SELECTs the user's code sent itself."""
    return [
        q
        for q in recording.queries
        if q.role not in NOT_THE_USERS and not q.many and q.fingerprint.startswith("SELECT")
    ]


def reads_between_writes(
    recording: Recording, reads: Iterable[Query] | None = None
) -> Iterable[tuple[Query, tuple[int, ...]]]:
    """Each read (the user's own, or `reads`) with the number of writes made
    so far to each table it reads: the same read after a write to its tables
    may return other rows (a count before and after a create), so it is no
    duplicate."""
    wanted = {id(query) for query in (user_reads(recording) if reads is None else reads)}
    writes: dict[str, int] = defaultdict(int)
    for query in recording.queries:
        if _WRITE.match(query.fingerprint):
            table = statement_table(query.fingerprint)
            if table:
                writes[table.lower()] += 1
        elif id(query) in wanted:
            yield query, tuple(writes[table] for table in _read_tables(query.fingerprint))


@lru_cache(maxsize=4096)
def _read_tables(fingerprint: str) -> tuple[str, ...]:
    """The tables a statement reads, by name, sorted: once per shape (a long
    select_related statement takes a while to scan)."""
    return tuple(
        sorted({t.strip('"`').rsplit(".", 1)[-1].lower() for t in _TABLES.findall(fingerprint)})
    )


def manager(model: Any) -> str:
    """How code reaches the model's rows: "Book.objects"."""
    return f"{model_name(model)}.objects"


def model_name(model: Any) -> str:
    """How code names the model: Book, or Book.tags.through for an
    auto-created many-to-many table."""
    if model is None:
        return "Model"
    if model._meta.auto_created:
        owner = model._meta.auto_created
        for field in owner._meta.local_many_to_many:
            if field.remote_field.through is model:
                return f"{short(owner._meta.label)}.{field.name}.through"
    return short(model._meta.label)
