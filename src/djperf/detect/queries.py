"""Rules about statements: repeated-query, duplicate-query, large-in-clause.

They read ``recording.queries``. Statements that belong to a problem another
rule names (a lazy load's queries are the n-plus-one finding), and Django's
own work (bookkeeping, prefetches, deletions, bulk operations) are left out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from djperf.detect._models import model_for_table, short, statement_table
from djperf.detect.findings import Finding, Fix
from djperf.detect.registry import register
from djperf.record.events import Evaluation, Location, Query
from djperf.record.recorder import Recording

# Statements of these roles are never the user's repeated reads.
_NOT_THE_USERS = frozenset(
    {"lazy_load", "prefetch", "bookkeeping", "delete", "bulk", "relation_write"}
)
_WHERE_COLUMN = re.compile(r"\bWHERE\s+\(?\s*(?:[\w]+\.)?(\w+)\s*(=|IN)\s", re.I)


def _reads(recording: Recording) -> list[Query]:
    return [
        q
        for q in recording.queries
        if q.role not in _NOT_THE_USERS and not q.many and q.fingerprint.startswith("SELECT")
    ]


def _loop_origin(recording: Recording, first: Query) -> Evaluation | None:
    """The queryset a repeated statement's loop most likely iterates: the last
    evaluation of the same function, earlier in the same file, before it ran."""
    location = first.location
    if location is None:
        return None
    found: Evaluation | None = None
    for evaluation in recording.evaluations:
        where = evaluation.location
        if (
            where is not None
            and where.path == location.path
            and where.function == location.function
            and where.line < location.line
            and evaluation.root is None
        ):
            found = evaluation
    return found


@register("repeated-query", count=5)
def repeated_query(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """The same query shape run many times from one line with different values."""
    groups: dict[tuple[str, Location | None], list[Query]] = defaultdict(list)
    for query in _reads(recording):
        groups[(query.fingerprint, query.location)].append(query)
    for (fingerprint, location), queries in groups.items():
        values = {q.params_key for q in queries}
        if len(queries) < thresholds["count"] or len(values) < 2:
            continue
        table = statement_table(fingerprint)
        model = model_for_table(table) if table else None
        label = model._meta.label if model is not None else None
        fix = _batch_fix(model, fingerprint)
        duration = sum(q.duration for q in queries)
        origin = _loop_origin(recording, queries[0])
        yield Finding(
            rule="repeated-query",
            message=(
                f"The same {short(label) if label else table} query ran {len(queries)} times "
                f"from one line with {len(values)} different values "
                f"({duration * 1000:.1f} ms): fetch them in one query. {fix.text}"
            ),
            severity="warning",
            model=label,
            count=len(queries),
            location=location,
            origin=origin.location if origin is not None else None,
            fix=fix,
            duration=duration,
        )


def _batch_fix(model: Any, fingerprint: str) -> Fix:
    name = short(model._meta.label) if model is not None else "Model"
    match = _WHERE_COLUMN.search(fingerprint)
    column = match.group(1) if match else None
    field = _field_for_column(model, column) if column else None
    if field is None or field == "pk" or (model is not None and column == model._meta.pk.column):
        return Fix("in_bulk", None, f"{name}.objects.in_bulk(ids)")
    return Fix("in_bulk", field, f"{name}.objects.filter({field}__in=values)")


def _field_for_column(model: Any, column: str) -> str | None:
    if model is None:
        return None
    for field in model._meta.concrete_fields:
        if field.column == column:
            return "pk" if field.primary_key else str(field.attname)
    return None


@register("duplicate-query", count=2)
def duplicate_query(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """The same query with the same values run more than once."""
    groups: dict[tuple[str, int | None], list[Query]] = defaultdict(list)
    for query in _reads(recording):
        if query.params_key is not None:
            groups[(query.sql, query.params_key)].append(query)
    for queries in groups.values():
        if len(queries) < thresholds["count"]:
            continue
        first = queries[0]
        table = statement_table(first.fingerprint)
        model = model_for_table(table) if table else None
        label = model._meta.label if model is not None else None
        duration = sum(q.duration for q in queries[1:])
        lines = sorted({str(q.location) for q in queries if q.location is not None})
        yield Finding(
            rule="duplicate-query",
            message=(
                f"The same {short(label) if label else table} query with the same values ran "
                f"{len(queries)} times ({', '.join(lines) or 'lines unknown'}): the repeats "
                f"cost {duration * 1000:.1f} ms. Keep the first result and reuse it."
            ),
            severity="warning",
            model=label,
            count=len(queries),
            location=first.location,
            fix=Fix(
                "reuse", None, "keep the result in a variable (or cached_property) and reuse it"
            ),
            duration=duration,
        )


_IN_VALUES = re.compile(
    r"\bIN\s*\(\s*((?:%s|\?|%\(\w+\)s)(?:\s*,\s*(?:%s|\?|%\(\w+\)s))*)\s*\)", re.I
)


def in_list_sizes(sql: str) -> list[int]:
    """The number of values of each IN (%s, %s, ...) list of a statement."""
    return [match.group(1).count(",") + 1 for match in _IN_VALUES.finditer(sql)]


@register("large-in-clause", count=200)
def large_in_clause(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """An IN list with very many values, passed from Python."""
    seen: dict[tuple[str, Location | None], tuple[int, list[Query]]] = {}
    for query in recording.queries:
        if query.role in ("prefetch", "bulk", "bookkeeping", "lazy_load") or "IN" not in query.sql:
            continue
        sizes = in_list_sizes(query.sql)
        largest = max(sizes, default=0)
        if largest < thresholds["count"]:
            continue
        key = (query.fingerprint, query.location)
        previous, queries = seen.get(key, (0, []))
        seen[key] = (max(previous, largest), [*queries, query])
    for (fingerprint, location), (largest, queries) in seen.items():
        table = statement_table(fingerprint)
        model = model_for_table(table) if table else None
        label = model._meta.label if model is not None else None
        duration = sum(q.duration for q in queries)
        yield Finding(
            rule="large-in-clause",
            message=(
                f"A {short(label) if label else table} statement passes {largest} values in one "
                f"IN list ({duration * 1000:.1f} ms); such lists grow with the data and defeat "
                f"the query planner. Let the database find the rows: a subquery "
                f"(filter(x__in=Other.objects.filter(...).values('pk'))), a join, or a range."
            ),
            severity="warning",
            model=label,
            count=largest,
            location=location,
            fix=Fix(
                "subquery",
                None,
                ".filter(<field>__in=<Model>.objects.filter(<condition>).values('pk'))",
            ),
            duration=duration,
        )
