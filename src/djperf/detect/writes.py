"""write-in-loop: many INSERT, UPDATE or DELETE of one table from one line.

Writes are counted per *operation*: a ``delete()`` with its cascades, a
related manager's ``set()``, or a single statement. So one ``qs.delete()``
that cascades to five tables is one write, and a bulk operation is never a
write in a loop. For a deletion, the table it is about is the one Django
deletes last (the parent, after its dependants).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from djperf.detect._models import model_for_table, short, statement_table
from djperf.detect.findings import Finding, Fix
from djperf.detect.registry import register
from djperf.record.events import Location, Query
from djperf.record.recorder import Recording

_SET_COLUMNS = re.compile(r"^UPDATE \S+ SET (.*?)(?: WHERE |$)", re.S)
_ASSIGNED = re.compile(r"(?:^|,\s*)(?:\w+\.)?(\w+)\s*=")

VERBS = {"INSERT": "insert", "UPDATE": "update", "DELETE": "delete"}


def _verb(query: Query) -> str | None:
    return VERBS.get(query.fingerprint.split(" ", 1)[0].upper())


def _operations(recording: Recording) -> list[tuple[str, str, Query, list[Query]]]:
    """(verb, table, representative statement, statements) per write operation.

    A get_or_create() is an operation of its own (verb "get_or_create"),
    with or without a write.
    """
    grouped: dict[int, list[Query]] = defaultdict(list)
    single: list[list[Query]] = []
    for query in recording.queries:
        if query.role in ("bulk", "bookkeeping", "prefetch", "lazy_load"):
            continue
        if query.role == "get_or_create" and query.operation is not None:
            grouped[query.operation].append(query)
        elif _verb(query) is None:
            continue
        elif query.operation is not None:
            grouped[query.operation].append(query)
        else:
            single.append([query])
    operations = []
    for statements in grouped.values():
        if statements[0].role == "get_or_create":
            table = statement_table(statements[0].fingerprint) or "?"
            operations.append(("get_or_create", table, statements[0], statements))
            continue
        if statements[0].role == "delete":
            # Writes made at another line during a deletion come from its
            # signal handlers: user code, each a write of its own.
            where = next((q.location for q in statements if _verb(q) == "delete"), None)
            own = [q for q in statements if q.location == where or _verb(q) is None]
            single.extend([q] for q in statements if q not in own)
            statements = own
        writes = [q for q in statements if _verb(q) is not None]
        if not writes:
            continue
        # A deletion is about its last DELETE; a relation write about its INSERT.
        chosen = writes[-1] if writes[0].role == "delete" else _main_write(writes)
        table = statement_table(chosen.fingerprint) or "?"
        operations.append((_verb(chosen) or "write", table, chosen, statements))
    for statements in single:
        chosen = statements[0]
        table = statement_table(chosen.fingerprint) or "?"
        operations.append((_verb(chosen) or "write", table, chosen, statements))
    return operations


def _main_write(writes: list[Query]) -> Query:
    for verb in ("INSERT", "UPDATE", "DELETE"):
        for query in writes:
            if query.fingerprint.startswith(verb):
                return query
    return writes[0]


@register("write-in-loop", count=3)
def write_in_loop(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """Many writes of one table from one line: one statement per row."""
    groups: dict[tuple[Location | None, str, str], list[tuple[Query, list[Query]]]] = defaultdict(
        list
    )
    for verb, table, chosen, statements in _operations(recording):
        if chosen.location is None:
            continue
        groups[(chosen.location, verb, table)].append((chosen, statements))
    for (location, verb, table), operations in groups.items():
        if len(operations) < thresholds["count"]:
            continue
        model = model_for_table(table)
        relation = operations[0][0].role == "relation_write"
        fix = _fix(verb, model, operations[0][0], relation)
        statements = [q for _, group in operations for q in group]
        duration = sum(q.duration for q in statements)
        label = model._meta.label if model is not None else None
        what = _describe(model, table)
        yield Finding(
            rule="write-in-loop",
            message=(
                f"{len(operations)} {verb}s of {what} from one line, one per row "
                f"({len(statements)} statements, {duration * 1000:.1f} ms): "
                f"write them together. {fix.text}"
            ),
            severity="warning",
            model=label,
            count=len(operations),
            location=location,
            fix=fix,
            duration=duration,
        )


def _describe(model: Any, table: str) -> str:
    """ "Product" for a model, "DailyImpressionStats.tags rows" for a through table."""
    if model is None:
        return table
    if model._meta.auto_created:
        owner = model._meta.auto_created
        field = next(
            (f.name for f in owner._meta.many_to_many if f.remote_field.through is model), "?"
        )
        return f"{short(owner._meta.label)}.{field} rows"
    return short(model._meta.label)


def _fix(verb: str, model: Any, statement: Query, relation: bool) -> Fix:
    name = short(model._meta.label) if model is not None else "Model"
    if verb == "get_or_create":
        return Fix(
            "bulk_create",
            None,
            f"found = {name}.objects.in_bulk(keys, field_name='<unique field>'), then "
            f"{name}.objects.bulk_create(<the missing ones>) (update_or_create: "
            f"bulk_create(objs, update_conflicts=True, unique_fields=[...], "
            f"update_fields=[...]))",
        )
    if model is not None and model._meta.auto_created:
        owner = model._meta.auto_created
        field = next(
            (f.name for f in owner._meta.many_to_many if f.remote_field.through is model), "<m2m>"
        )
        through = f"{short(owner._meta.label)}.{field}.through"
        if verb == "delete":
            return Fix(
                "delete",
                field,
                f"{through}.objects.filter(...__in=...).delete()  # the rows of every .{field}",
            )
        return Fix(
            "bulk_create",
            field,
            f"{through}.objects.bulk_create([{through}(...), ...])  # the rows of every .{field}",
        )
    if verb == "insert":
        return Fix("bulk_create", None, f"{name}.objects.bulk_create(objs)")
    if verb == "update":
        fields = _updated_fields(model, statement.fingerprint)
        listed = ", ".join(repr(f) for f in fields) if fields else "'field', ..."
        if " WHERE " in statement.fingerprint and _keyed_by_pk(model, statement.fingerprint):
            return Fix(
                "bulk_update",
                ",".join(fields) or None,
                f"{name}.objects.bulk_update(objs, [{listed}])",
            )
        return Fix(
            "update", None, f"{name}.objects.filter(...).update(...)  # one UPDATE for all rows"
        )
    return Fix("delete", None, f"{name}.objects.filter(pk__in=ids).delete()")


def _updated_fields(model: Any, fingerprint: str) -> list[str]:
    match = _SET_COLUMNS.match(fingerprint)
    if match is None:
        return []
    columns = _ASSIGNED.findall(match.group(1))
    if model is None:
        return columns
    by_column = {f.column: f.name for f in model._meta.concrete_fields}
    return [by_column.get(column, column) for column in columns if column != model._meta.pk.column]


def _keyed_by_pk(model: Any, fingerprint: str) -> bool:
    if model is None:
        return True
    where = fingerprint.split(" WHERE ", 1)[1]
    # The column itself, not one ending with it ("id" is not "author_id").
    column = re.escape(model._meta.pk.column)
    return re.search(rf"(?<![\w]){column}\s*(?:= #|IN \()", where) is not None
