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
from djperf.detect.relations import distinct_instances, relation_groups
from djperf.record.events import Evaluation, LazyLoad, Location, Query
from djperf.record.recorder import Recording

# Statements of these roles are never the user's repeated reads.
_NOT_THE_USERS = frozenset(
    {"lazy_load", "prefetch", "bookkeeping", "delete", "bulk", "relation_write", "get_or_create"}
)
_WHERE_COLUMN = re.compile(r"\bWHERE\s+\(?\s*(?:([\w\"`]+)\.)?([\w\"`]+)\s*(=|IN)\s", re.I)
# Reading a table chunk by chunk (Paginator pages, keyset batches
# "WHERE id > %s ORDER BY id LIMIT 1000"): the same shape on purpose.
_CHUNK = re.compile(r"\bOFFSET #|\bWHERE\b.*[<>]=? #.*\bORDER BY\b.*\bLIMIT #", re.I | re.S)
_COUNT = re.compile(r"^SELECT COUNT\(\*\)", re.I)
_EXISTS = re.compile(r"^SELECT # AS a FROM .* LIMIT #$", re.I | re.S)


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
        if _CHUNK.search(fingerprint):
            continue
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
    """One query for all the values: in_bulk, filter(x__in=...), or for a
    count or an existence test per parent row, an annotation on the parents."""
    match = _WHERE_COLUMN.search(fingerprint)
    if match is None:
        return Fix("in_bulk", None, f"{_manager(model)}.in_bulk(ids)")
    column = match.group(2).strip('"`')
    where_model = model_for_table(match.group(1)) if match.group(1) else model
    field = _field_for_column(where_model, column)
    if field is None:
        return Fix("in_bulk", None, f"{_manager(model)}.in_bulk(ids)")
    counting = _COUNT.match(fingerprint) is not None
    testing = _EXISTS.match(fingerprint) is not None
    if where_model._meta.auto_created and (where_model is not model or counting or testing):
        # A many-to-many read, counted or tested through its table, per parent
        # (Django counts book.tags on the through table alone).
        return _many_to_many_fix(where_model, field, counting=counting, testing=testing)
    if where_model is not model:
        return _joined_fix(model, where_model, field, counting=counting)
    if field.is_relation and not field.primary_key and (counting or testing):
        return _annotation_fix(field, exists=testing, filtered=" AND " in _where(fingerprint))
    if "FOR UPDATE" in fingerprint.upper():
        return Fix(
            "select_for_update",
            "pk",
            f"{_manager(model)}.select_for_update().filter(pk__in=ids).order_by('pk')"
            "  # one lock query",
        )
    if field.primary_key:
        return Fix("in_bulk", None, f"{_manager(model)}.in_bulk(ids)")
    return Fix("in_bulk", field.attname, f"{_manager(model)}.filter({field.attname}__in=values)")


def _where(fingerprint: str) -> str:
    where = fingerprint.split(" WHERE ", 1)[-1]
    return re.split(r" (?:ORDER BY|LIMIT|GROUP BY|FOR UPDATE)\b", where, maxsplit=1)[0]


def _manager(model: Any) -> str:
    return f"{_model_name(model)}.objects"


def _model_name(model: Any) -> str:
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


def _annotation_fix(field: Any, *, exists: bool, filtered: bool) -> Fix:
    """.count() or .exists() per parent row: count in the parents' query."""
    parent = short(field.related_model._meta.label)
    child = short(field.model._meta.label)
    name = field.related_query_name()
    if exists:
        condition = ", ..." if filtered else ""
        text = (
            f"{parent}.objects.annotate(has_{name}=Exists({child}.objects.filter("
            f"{field.name}=OuterRef('pk'){condition})))  # then read .has_{name}"
        )
    else:
        condition = f", filter=Q({name}__...)" if filtered else ""
        text = (
            f"{parent}.objects.annotate({name}_count=Count({name!r}{condition}))"
            f"  # then read .{name}_count"
        )
    return Fix("annotate", name, text)


def _joined_fix(model: Any, joined: Any, field: Any, *, counting: bool) -> Fix:
    """A filter on a joined table's column (filter(author__name=...)) per value."""
    relation = next(
        (f for f in model._meta.concrete_fields if f.is_relation and f.related_model is joined),
        None,
    )
    if relation is None:
        return Fix("in_bulk", None, f"{_manager(model)}.filter(<lookup>__in=values)")
    lookup = f"{relation.name}__{field.name}"
    text = f"{_manager(model)}.filter({lookup}__in=values)"
    if counting:
        text += f".values({lookup!r}).annotate(count=Count('pk'))  # one count per value"
    return Fix("in_bulk", lookup, text)


def _many_to_many_fix(through: Any, field: Any, *, counting: bool, testing: bool) -> Fix:
    """Per-parent reads of a many-to-many: prefetch it on the parents, or
    count it in their query."""
    owner = through._meta.auto_created
    for m2m in owner._meta.local_many_to_many:
        if m2m.remote_field.through is not through:
            continue
        if field.name == m2m.m2m_field_name():
            parent, accessor, query_name = owner, m2m.name, m2m.name
        else:
            parent = m2m.related_model
            accessor = m2m.remote_field.get_accessor_name()
            query_name = m2m.related_query_name()
        name = short(parent._meta.label)
        if counting:
            text = (
                f"{name}.objects.annotate({accessor}_count=Count({query_name!r}))"
                f"  # then read .{accessor}_count"
            )
            return Fix("annotate", query_name, text)
        if testing:
            text = (
                f"{name}.objects.annotate(has_{accessor}=Exists({_manager(through)}"
                f".filter({field.name}=OuterRef('pk'))))  # then read .has_{accessor}"
            )
            return Fix("annotate", query_name, text)
        text = f"{name}.objects.prefetch_related({accessor!r})  # then read obj.{accessor}.all()"
        return Fix("prefetch_related", accessor, text)
    return Fix("in_bulk", field.attname, f"{_manager(through)}.filter({field.attname}__in=values)")


def _field_for_column(model: Any, column: str) -> Any:
    if model is None or not column:
        return None
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field
    return None


_TABLES = re.compile(r"\b(?:FROM|JOIN)\s+([\w.\"`]+)", re.I)
_WRITE = re.compile(r"^\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


def _reads_between_writes(
    recording: Recording, reads: Iterable[Query] | None = None
) -> Iterable[tuple[Query, tuple[int, ...]]]:
    """Each read (the user's own, or `reads`) with the number of writes made
    so far to each table it reads: the same read after a write to its tables
    may return other rows (a count before and after a create), so it is no
    duplicate."""
    wanted = {id(query) for query in (_reads(recording) if reads is None else reads)}
    writes: dict[str, int] = defaultdict(int)
    for query in recording.queries:
        if _WRITE.match(query.fingerprint):
            table = statement_table(query.fingerprint)
            if table:
                writes[table.lower()] += 1
        elif id(query) in wanted:
            tables = sorted(
                {
                    t.strip('"`').rsplit(".", 1)[-1].lower()
                    for t in _TABLES.findall(query.fingerprint)
                }
            )
            yield query, tuple(writes[table] for table in tables)


@register("duplicate-query", count=2)
def duplicate_query(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """The same query with the same values run more than once."""
    groups: dict[tuple[Any, ...], list[Query]] = defaultdict(list)
    for query, epoch in _reads_between_writes(recording):
        if query.params_key is not None:
            groups[(query.sql, query.params_key, epoch)].append(query)
    for queries in groups.values():
        if len(queries) < thresholds["count"]:
            continue
        first = queries[0]
        table = statement_table(first.fingerprint)
        model = model_for_table(table) if table else None
        label = model._meta.label if model is not None else None
        duration = sum(q.duration for q in queries[1:])
        lines = sorted({str(q.location) for q in queries if q.location is not None})
        if first.admin is not None and _COUNT.match(first.fingerprint):
            yield _changelist_counts(first.admin, label or table or "?", queries, duration)
            continue
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
    yield from _manager_rereads(recording, thresholds["count"])


def _changelist_counts(
    admin: Location, label: str, queries: list[Query], duration: float
) -> Finding:
    """An admin changelist counts its rows for the paginator and again for
    the "(N total)" beside a filtered count: without a filter, the same count
    twice, a full scan each on a big table."""
    fix = Fix("show_full_result_count", None, f"show_full_result_count = False on {admin.function}")
    return Finding(
        rule="duplicate-query",
        message=(
            f"The admin changelist of {short(label)} counted the same rows {len(queries)} "
            f"times, once for the page and once for the total: the repeats cost "
            f"{duration * 1000:.1f} ms. {fix.text}"
        ),
        severity="warning",
        model=label if "." in label else None,
        count=len(queries),
        location=queries[0].location,
        fix=fix,
        duration=duration,
        built=admin,
    )


# Relations read through a related manager, which caches nothing: reading one
# twice for the same instance sends the same query twice.
_MANAGER_KINDS = frozenset({"reverse_foreign_key", "many_to_many", "generic_relation"})


def _manager_rereads(recording: Recording, count: int) -> Iterable[Finding]:
    """One instance's related manager read again with nothing written between
    (``{% if author.books.all %}`` then ``{% for b in author.books.all %}``).
    Across several instances of one queryset it is n-plus-one's: a prefetch
    serves every read. Here it is the same instance's, and no rule else."""
    loads = [
        load
        for load in recording.lazy_loads
        if load.kind in _MANAGER_KINDS
        and load.queries
        and load._instance is not None
        and not load.bypassed_prefetch
    ]
    if len(loads) < count:
        return
    covered = {
        id(load)
        for group in relation_groups(loads).values()
        if distinct_instances(group) >= 2
        for load in group
    }
    epochs = {
        id(query): epoch
        for query, epoch in _reads_between_writes(recording, [load.queries[0] for load in loads])
    }
    same: dict[tuple[Any, ...], list[LazyLoad]] = defaultdict(list)
    for load in loads:
        if id(load) in covered:
            continue
        first = load.queries[0]
        # A weakref to an object without a callback is shared: one per instance.
        key = (id(load._instance), load.model, load.field, first.sql, first.params_key)
        same[(*key, epochs.get(id(first)))].append(load)
    findings: dict[tuple[Any, ...], list[list[LazyLoad]]] = defaultdict(list)
    for repeated in same.values():
        if len(repeated) >= count:
            lines = tuple(sorted({str(load.location) for load in repeated if load.location}))
            findings[(repeated[0].model, repeated[0].field, lines)].append(repeated)
    for (model, field, lines), sets in findings.items():
        reads = sum(len(repeated) for repeated in sets)
        repeats = [load for repeated in sets for load in repeated[1:]]
        duration = sum(load.duration for load in repeats)
        owner = short(model).lower()
        fix = Fix(
            "reuse",
            field,
            f"{field} = list({owner}.{field}.all()), then use {field} "
            f"(in a template: {{% with {field}={owner}.{field}.all %}})",
        )
        instances = "the same instance" if len(sets) == 1 else f"each of {len(sets)} instances"
        yield Finding(
            rule="duplicate-query",
            message=(
                f"{short(model)}.{field} was read {reads} times for {instances} with nothing "
                f"written between ({', '.join(lines) or 'lines unknown'}): a related manager "
                f"caches nothing, so the repeats cost {len(repeats)} queries, "
                f"{duration * 1000:.1f} ms. Keep the first result: {fix.text}"
            ),
            severity="warning",
            model=model,
            field=field,
            count=reads,
            location=sets[0][1].location,
            fix=fix,
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
        yield Finding(
            rule="large-in-clause",
            message=(
                f"A {short(label) if label else table} statement passes {size} values in one "
                f"IN list ({duration * 1000:.1f} ms); such lists grow with the data and defeat "
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


_DJANGOS_LISTS = frozenset({"prefetch", "bulk", "bookkeeping", "lazy_load", "relation_write"})
