"""large-in-clause: an IN list with very many values, passed from Python."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from djperf._format import duration as shown
from djperf.detect._models import model_for_table, short, statement_table
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix, Location
from djperf.record.events import Query
from djperf.record.scope import Recording

rule = Rule(__name__, reads=("queries",), count=200)

_IN_VALUES = re.compile(
    r"\bIN\s*\(\s*((?:%s|\?|%\(\w+\)s)(?:\s*,\s*(?:%s|\?|%\(\w+\)s))*)\s*\)", re.I
)
# Lists Django makes itself: prefetches, bulk batches, a related manager's writes.
_DJANGOS_LISTS = frozenset({"prefetch", "bulk", "bookkeeping", "lazy_load", "relation_write"})


@lru_cache(maxsize=4096)
def in_list_sizes(sql: str) -> tuple[int, ...]:
    """The number of values of each IN (%s, %s, ...) list of a statement
    (once per text: a long select_related statement takes a while to scan)."""
    return tuple(match.group(1).count(",") + 1 for match in _IN_VALUES.finditer(sql))


@rule.detects
def large_in_clause(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """An IN list with very many values, passed from Python.

    Django's own lists are left out: prefetches, bulk batches, a related
    manager's writes, and the cascades of a deletion (only its first
    statement, the user's filter, counts).
    """
    seen: dict[tuple[str, Location | None], list[Query]] = {}
    largest: dict[tuple[str, Location | None], int] = {}
    sizes_of: dict[str, int] = {}
    deletions: set[int | None] = set()
    for query in recording.queries:
        if query.role in _DJANGOS_LISTS:
            continue
        if query.role == "delete":
            if query.operation in deletions:
                continue
            deletions.add(query.operation)
        if "IN" not in query.sql:
            continue
        size = sizes_of.get(query.sql)
        if size is None:
            size = sizes_of[query.sql] = max(in_list_sizes(query.sql), default=0)
        if size < thresholds["count"]:
            continue
        key = (query.fingerprint, query.location)
        seen.setdefault(key, []).append(query)
        largest[key] = max(largest.get(key, 0), size)
    for (fingerprint, location), queries in seen.items():
        size = largest[(fingerprint, location)]
        table = statement_table(fingerprint)
        model = model_for_table(table) if table else None
        label = model._meta.label if model is not None else None
        duration = sum(q.duration for q in queries)
        yield rule.finding(
            message=(
                f"A {short(label) if label else table} statement passes {size} values in one "
                f"IN list ({shown(duration)}); such lists grow with the data and defeat "
                f"the query planner. Let the database find the rows: a subquery "
                f"(filter(x__in=Other.objects.filter(...).values('pk'))), a join, or a range."
            ),
            severity="warning",
            model=label,
            count=size,
            location=location,
            fix=Fix(
                "subquery",
                None,
                ".filter(<field>__in=<Model>.objects.filter(<condition>).values('pk'))",
            ),
            duration=duration,
        )
