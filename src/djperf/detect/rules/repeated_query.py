"""repeated-query: the same query shape run many times from one line with different values."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from djperf._format import duration as shown
from djperf.detect._bulk import for_every_model, skipped_by_bulk
from djperf.detect._loops import (
    Loop,
    called_from,
    described,
    lines_of,
    loop_called_again,
    repeating_loop,
    runs_per_write,
    sent_at,
    separate_calls,
    write_hop,
)
from djperf.detect._models import model_for_label, model_for_table, short, statement_table
from djperf.detect._source import (
    batched_rewrite,
    constant_keywords,
    counted_then_iterated,
    in_a_cached_property,
    in_a_loop,
    manager_write,
    own_relation_query,
    probe_loop,
    receiver_path,
    shaping_calls,
    source_line,
)
from djperf.detect._statements import COUNT, manager, user_reads
from djperf.detect._work import (
    Repetition,
    by_request,
    in_test_code,
    judge,
    severity,
    test_driven,
)
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix, Location
from djperf.record.events import Evaluation, Query
from djperf.record.scope import Recording
from djperf.record.work import Drive

rule = Rule(__name__, reads=("queries",), count=5, warn_from=2)

_WHERE_COLUMN = re.compile(r"\bWHERE\s+\(?\s*(?:([\w\"`]+)\.)?([\w\"`]+)\s*(=|IN)\s", re.I)
# Reading a table chunk by chunk (Paginator pages, keyset batches
# "WHERE id > %s ORDER BY id LIMIT 1000"): the same shape on purpose.
_CHUNK = re.compile(r"\bOFFSET #|\bWHERE\b.*[<>]=? #.*\bORDER BY\b.*\bLIMIT #", re.I | re.S)
_EXISTS = re.compile(r"^SELECT # AS a FROM .* LIMIT #$", re.I | re.S)


@rule.detects
def repeated_query(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """The same query shape run many times from one line with different
    values, in one request (or one call from test code)."""
    for unit in by_request(user_reads(recording), _request):
        groups: dict[tuple[str, Location | None], list[Query]] = defaultdict(list)
        for query in unit:
            groups[(query.fingerprint, query.location)].append(query)
        for (fingerprint, _), group in groups.items():
            if _chunked(fingerprint):
                continue
            repetition = judge(group, thresholds["count"], _drive, library_call_of=_library_call)
            if repetition is not None and len({q.params_key for q in repetition.events}) >= 2:
                yield _one_query_per_value(recording, repetition, thresholds["warn_from"])


@lru_cache(maxsize=4096)
def _chunked(fingerprint: str) -> bool:
    return _CHUNK.search(fingerprint) is not None


# What a package offers to load for many items at once, where djperf knows.
_BATCHING = {
    "haystack": (
        "for search results read one .object at a time, .load_all() on the SearchQuerySet "
        "the view makes loads every result's object in one query per model"
    ),
}


# A template tag or filter given a quoted value: {% latest_release '5.2' %},
# {{ 'B00'|book }}.
_TEMPLATE_LITERAL = re.compile(r"""(\{%|\{\{)[^%}]*(['"])[^'"]+\2[^%}]*(%\}|\}\})""")


def _written_in_the_template(callers: list[Location]) -> bool:
    """Whether every call comes from a template line that writes its value
    there as a quoted literal: no view variable holds those values."""
    return bool(callers) and all(
        not caller.path.endswith(".py") and _TEMPLATE_LITERAL.search(source_line(caller))
        for caller in callers
    )


def _through_losses(model: Any) -> str:
    """What a bulk_create of a package's through rows would skip that its
    per-object writes ran (babybuddy's Tagged.save_base() stamping the
    tag's last use). An auto-created through model has no save() of its
    own, and whether the package sent m2m_changed is its own affair."""
    if model is None or model._meta.auto_created:
        return ""
    skipped, everywhere = skipped_by_bulk("insert", model)
    text = ""
    if skipped:
        text += (
            f"; the bulk_create would skip {', '.join(skipped)}: do what they do for all "
            "the rows at once, or keep the calls"
        )
    if everywhere:
        text += f"; it skips {for_every_model(everywhere, model)}"
    return text


def _request(query: Query) -> int | None:
    return query.request


def _library_call(query: Query) -> int | None:
    return query.library_call


def _drive(query: Query) -> Drive | None:
    return query.drive


def _one_query_per_value(
    recording: Recording, repetition: Repetition[Query], warn_from: int
) -> Finding:
    queries = repetition.events
    first = queries[0]
    fingerprint = first.fingerprint
    values = {q.params_key for q in queries}
    table = statement_table(fingerprint)
    model = model_for_table(table) if table else None
    label = model._meta.label if model is not None else None
    # The line that built the queryset, when it is not the one that ran it
    # (alerts = Alert.objects.filter(..., status=Alert.OPEN), then
    # alerts.count()): its constants are the query's too.
    built = _built_at(recording, first, label)
    written: dict[str, str] = {}
    for line in (built, first.location):
        if line is not None:
            written.update(constant_keywords(line))
    fix = _batch_fix(model, fingerprint, written)
    where = built or first.location
    batched = _from_the_line(fix, model, where)
    fix = batched if batched is not fix else _keeping_the_shape(fix, model, where)
    fix = (
        _counted_rows(fix, first)
        or _own_relation(model, queries)
        or _probing(fix, queries)
        or _once_per_write(_in_the_calling_loop(fix, queries), queries)
    )
    fix = _computed_again(fix, queries)
    fix = _annotated_but_asked_again(fix, queries)
    # (A receiver's reads after each save already say why no batch fits.)
    rewritten_at = (
        None if fix.text.startswith("no code") else _each_after_a_write(recording, queries, table)
    )
    if rewritten_at is not None:
        fix = Fix(
            "reuse",
            fix.lookup,
            "no code: each of these reads comes right after a write of the same table (at "
            f"{rewritten_at}) and reads what it changed (a refresh_from_db() after an "
            "update()), so one query before the loop would read the values from before the "
            "writes. One read for all fits only after every write, if nothing between needs "
            "the fresh values",
        )
    per_object = (
        manager_write(first.location)
        if first.via is not None
        and first.location is not None
        and first.location.path.endswith(".py")
        else None
    )
    if first.via is not None and per_object is not None:
        # A library's related manager writing for one object per call
        # (django-taggit's instance.tags.add(...)) reads what that object
        # has first: no one call takes every object.
        manager_name, method = per_object
        name = short(label) if label else "Through"
        loop = repeating_loop(queries)
        repeated_in = (
            f"in {described(loop, first.location)}"
            if loop is not None and first.location is not None
            else "where the loop that repeats the calls is"
        )
        fix = Fix(
            "bulk_create",
            None,
            f"no code for this line: the queries are {first.via}'s, its {manager_name}.{method}() "
            f"at {first.location} reads what one object has before writing, and serves one "
            "object per call, so no one call takes every object. Read what all of them have in "
            f"one query ({name}.objects.filter(<the objects>__in=...)) and write the rows "
            f"of all of them together ({name}.objects.bulk_create([...]): one row per object "
            "and value, leaving out a value given twice and one the object has, as the calls "
            f"do), {repeated_in}, or keep one call per object{_through_losses(model)}",
        )
    elif first.via is not None:
        # The queries are a library's: no ORM batch reaches inside it.
        fix = Fix(
            "call_once",
            None,
            f"the queries are {first.via}'s, one per call at {first.location}: call it once "
            "for all the values, or keep and reuse what it returns"
            + (f"; {_BATCHING[first.via]}" if first.via in _BATCHING else ""),
        )
    duration = sum(q.duration for q in queries)
    origin = _loop_origin(recording, first)
    if (
        fix.method == "prefetch_related"
        and origin is not None
        and not _has_field(origin.model, fix.lookup)
    ):
        # The loop's queryset is not one of the relation's parents.
        origin = None
    tests = repetition.driven_by_tests
    message = (
        f"The same {short(label) if label else table} query ran {len(queries)} times "
        f"from one line with {len(values)} different values "
        f"({shown(duration)}): fetch them in one query. {fix.text}"
    )
    if tests:
        message += test_driven(repetition, "query")
    location = repetition.test_line if tests and repetition.test_line else first.location
    return rule.finding(
        message=message,
        severity=severity(len(queries) - 1, warn_from, driven_by_tests=tests),
        model=label,
        count=len(queries),
        location=location,
        origin=origin.location if origin is not None else None,
        fix=fix,
        duration=duration,
        in_tests=tests or in_test_code(location),
    )


def _each_after_a_write(
    recording: Recording, queries: list[Query], table: str | None
) -> Location | None:
    """Where the write is, when every read of the group ran right after a
    write of the same table on the same database (the statement before it):
    a re-read of what that write changed, which no batch before the loop
    can replace."""
    if table is None:
        return None
    before: dict[int, Query] = {}
    last: dict[str, Query] = {}
    for query in recording.queries:
        if query.role == "bookkeeping":
            continue
        previous = last.get(query.alias)
        if previous is not None:
            before[id(query)] = previous
        last[query.alias] = query
    found: Location | None = None
    for query in queries:
        previous = before.get(id(query))
        if (
            previous is None
            or not previous.fingerprint.upper().startswith(("UPDATE", "INSERT"))
            or statement_table(previous.fingerprint) != table
        ):
            return None
        found = found or previous.location
    return found


def _in_the_calling_loop(fix: Fix, queries: list[Query]) -> Fix:
    """A batch written at a line that runs once per call of its function
    (a ``contains_product(product)`` asked per basket line, a receiver run
    per save) cannot go there: it goes in the loop that repeats the call,
    which the fix names, however many calls out it is. So does a line in a
    loop of its own that ran once per call (a ``while True`` drawing a code
    until a free one, called per voucher)."""
    location = queries[0].location
    if (
        fix.method not in ("in_bulk", "first_per_value")
        or location is None
        or not location.path.endswith(".py")
    ):
        return fix
    looped = in_a_loop(location)
    loop = repeating_loop(queries) if looped is not None else None
    if looped is None or (looped and (loop is None or loop.depth == 0)):
        return fix
    callers = sorted(
        {q.caller for q in queries if q.caller is not None}, key=lambda c: (c.path, c.line)
    )
    if not callers or location.function == "<module>":
        return fix
    lines = lines_of(queries[0])
    hop = write_hop(lines, loop.depth, sent_at(queries[0])) if loop is not None else None
    if loop is not None and hop is not None:
        # A receiver (or a save() override) queries once per save: it cannot
        # take the values of every save at once, and the loop cannot hand
        # them to it.
        return Fix(
            fix.method,
            fix.lookup,
            f"no code for this line: {lines[hop].function}() runs inside each write or "
            f"signal at {lines[hop + 1]} (a signal receiver, or a save() override), once per "
            f"write, and {described(loop, location)} repeats the writes. One query for all of them "
            f"({fix.text.partition('  # ')[0]}) fits only in that loop, after its writes: "
            "the per-write query must stop and the loop do that work once",
            model=fix.model,
            omits=fix.omits,
        )
    if loop is not None and not loop.line.path.endswith(".py"):
        # A template's {% for %}: it cannot collect values or run a query.
        return Fix(
            fix.method,
            fix.lookup,
            f"no code for this line: {location.function}() sends one query per call, and "
            f"{described(loop, location)} (a template's) repeats the calls. A template "
            "cannot gather the values and query once: the view must, for the list that "
            f"loop reads ({fix.text.partition('  # ')[0]}, or a prefetch on that list), and "
            "hand the results to the template",
            model=fix.model,
            omits=fix.omits,
        )
    if loop is not None:
        again = _asked_again(queries, loop)
        if again:
            return Fix(
                fix.method,
                fix.lookup,
                f"no code for this line: {location.function}() sends one query per call, and "
                f"{described(loop, location)} repeats the calls{again}",
                model=fix.model,
                omits=fix.omits,
            )
        return Fix(
            fix.method,
            fix.lookup,
            f"{_seen_from_the_loop(fix.text, loop, location)}  # {location.function}() sends "
            f"one query per call, and {described(loop, location)} repeats the calls: collect "
            "the values in that loop, run this once before it, and hand the results down",
            model=fix.model,
            omits=fix.omits,
        )
    if separate_calls(queries):
        shown = ", ".join(map(str, callers[:4])) + (" ..." if len(callers) > 4 else "")
        if _written_in_the_template(callers):
            return Fix(
                fix.method,
                fix.lookup,
                f"no code for this line: {location.function}() sends one query per call, and "
                f"no loop repeats the calls: they come from separate places of the page "
                f"({shown}), each with its value written in the template, so the view does "
                "not know them. One query for all of them fits only in the view, before "
                "rendering: list those values there as well and ask for them at once "
                f"({fix.text.partition('  # ')[0]}), and hand the "
                "template the results as one variable per place, which the place reads "
                f"instead of calling {location.function}() (a template cannot look a "
                "dictionary up by a value such as '5.2': its dots read attributes and keys "
                "that are names, so a dictionary needs a filter of your own)",
                model=fix.model,
                omits=fix.omits,
            )
        return Fix(
            fix.method,
            fix.lookup,
            f"no code for this line: {location.function}() sends one query per call, and no "
            f"loop repeats the calls: they come from separate places of the page ({shown}). "
            "One query for all the values fits only where they are all known: the view, "
            f"before rendering ({fix.text.partition('  # ')[0]}), handing each place its "
            f"result, which the place then reads instead of calling {location.function}()",
            model=fix.model,
            omits=fix.omits,
        )
    calls = (
        f"called {len(queries)} times from {callers[0]}"
        if len(callers) == 1 and all(q.caller == callers[0] for q in queries)
        else f"called from {', '.join(map(str, callers))}"
    )
    return Fix(
        fix.method,
        fix.lookup,
        f"{fix.text}  # {location.function}() sends one query per call ({calls}): "
        "collect the values in the loop that repeats that call and run this once there",
        model=fix.model,
        omits=fix.omits,
    )


def _probing(fix: Fix, queries: list[Query]) -> Fix | None:
    """A ``while`` that tries one candidate per pass until one is free (a
    slug, slug-2, slug-3 ...; a random voucher code drawn again): the next
    value depends on the last answer, so no list of values exists to batch
    before the loop. Many candidates made up front can be asked at once."""
    location = queries[0].location
    if fix.method != "in_bulk" or location is None or not location.path.endswith(".py"):
        return None
    start = probe_loop(location)
    if start is None:
        return None
    code = fix.text.partition("  # ")[0]
    field = fix.lookup or "<field>"
    outer = repeating_loop(queries, beyond=1)
    passes = (
        f" And {described(outer, location)} repeats the calls: make the candidates for all "
        "of its passes at once, distinct from each other, give each pass its own, and try "
        "again only for those taken"
        if outer is not None
        else ""
    )
    return Fix(
        fix.method,
        fix.lookup,
        f"no code for this line: the while loop at line {start} of {location.function}() "
        f"tries one candidate {field} per pass until one is free, one query each, and each "
        "next candidate waits for the last answer. One query can test many: make several "
        "candidates up front, ask which are taken at once (a set of "
        f"{code}.values_list({field!r}, flat=True), with the line's other conditions), "
        "take the first not taken, and make more only when all are." + passes + ". The "
        "unique constraint still has the last word: a value taken between the query and "
        "the write fails there, as now",
        model=fix.model,
        omits=fix.omits,
    )


def _computed_again(fix: Fix, queries: list[Query]) -> Fix:
    """A cached_property runs once per object: the same values asked again
    from one means other objects computed it again, the same rows loaded
    anew (oscar's Range.product_queryset, 6 queries for 2 ranges: each
    offer stage loads its range again). A batch needs one queryset that
    loads every object, and these came one at a time."""
    location = queries[0].location
    values = len({q.params_key for q in queries})
    if (
        fix.text.startswith("no code")
        or location is None
        or not location.path.endswith(".py")
        or values * 2 > len(queries)
        or not in_a_cached_property(location)
    ):
        return fix
    return Fix(
        fix.method,
        fix.lookup,
        f"no code for this line: {location.function} is a cached_property, computed once "
        f"per object, yet its {len(queries)} queries asked for only {values} values, each "
        "again: the same rows were loaded again as new objects (or copied without the "
        "cached value), and each computed it anew. One query for all "
        f"({fix.text.partition('  # ')[0]}) fits only on a queryset that loads every one of "
        "those objects; first share one object per row between the code that reads it (or "
        "keep the results where the objects come from): djperf cannot see where the others "
        "were made",
        model=fix.model,
        omits=fix.omits,
    )


def _seen_from_the_loop(text: str, loop: Loop, location: Location) -> str:
    """The batched code, written at the line, as the loop's function sees
    it: its ``self`` is the object the line's method runs on, which the
    loop reaches through the calls between (oscar's is_satisfied() calling
    ``self.range.contains_product()``: ``self.range.product_queryset``)."""
    code, hash_, rest = text.partition("  # ")
    if "self." not in code or loop.depth < 1 or not loop.line.path.endswith(".py"):
        return text
    calls = [loop.line, *loop.through]
    path = receiver_path(calls, [line.function for line in loop.through] + [location.function])
    if path == "self":
        return text
    if path is None:
        note = (
            f"  # self here is the object {location.function}() runs on: in "
            f"{loop.line.function}() reach it as the calls between do"
        )
    else:
        code = re.sub(r"(?<![\w.])self\.", f"{path}.", code)
        note = f"  # {path}: the object {location.function}() runs on, from {loop.line.function}()"
    return f"{code}{note}{hash_}{rest}"


def _annotated_but_asked_again(fix: Fix, queries: list[Query]) -> Fix:
    """An annotation per object, when the queries asked again for the same
    few objects (oscar's offer.combinations.count(), 10 queries for 2
    offers, per basket line and applied offer): it serves only objects
    loaded from a queryset that has it, and the same objects reach the
    code from wherever it got them; a result kept per object serves all."""
    values = len({q.params_key for q in queries})
    if (
        fix.method != "annotate"
        or fix.text.startswith("no code")
        or values * 2 > len(queries)
        or "asked for only" in fix.text
    ):
        return fix
    # (The parent: the model whose rows the annotation goes on.)
    name = fix.text.partition(".objects.annotate(")[0]
    if not name.isidentifier():
        return fix
    return Fix(
        fix.method,
        fix.lookup,
        f"{fix.text}; but the {len(queries)} queries asked for only {values} values, each "
        f"again: the same {name} objects counted again. The annotation serves only {name} "
        "objects loaded from a queryset that has it, so every place that loads the ones "
        "read here needs it; keeping each result where the calls meet (a dictionary by key "
        f"for the request, or a cached_property on {name} when one object is read again) "
        "serves them wherever they come from",
        model=fix.model,
        omits=fix.omits,
    )


def _asked_again(queries: list[Query], loop: Loop) -> str:
    """What one batch per run of the loop leaves, when the function the loop
    is in was itself called again and asked for the same values (oscar's
    contains_product(), 26 queries for 2 products: is_satisfied() run by
    each stage of every offer): nothing, when each value was asked once."""
    values = len({q.params_key for q in queries})
    again = loop_called_again(queries, loop)
    if again is None or values * 2 > len(queries) or not loop.line.path.endswith(".py"):
        return ""
    return (
        f"; but {called_from(again)}, and the {len(queries)} queries asked for only {values} "
        f"values, each again in those calls: one batch per call of {again.function} (the "
        "values collected in that loop, one query before it) would leave most of them. Keep "
        "the results where those calls meet (on an object they share, or for the request) "
        "and look each value up there first"
    )


def _counted_rows(fix: Fix, first: Query) -> Fix | None:
    """A count of a queryset whose rows the same function then loads anyway
    (``alerts.count()``, then ``for alert in alerts:``): ``len()`` of the
    rows removes the COUNT from every call, wherever the calls come from."""
    location = first.location
    if location is None or not location.path.endswith(".py") or not COUNT.match(first.fingerprint):
        return None
    found = counted_then_iterated(location)
    if found is None:
        return None
    name, loop = found
    return Fix(
        "len",
        None,
        f"{name} is loaded by the loop at line {loop} anyway: len({name}) instead of "
        f"{name}.count() loads its rows once, and the loop reads them from the queryset's "
        "cache: no COUNT query",
        model=fix.model,
    )


def _own_relation(model: Any, queries: list[Query]) -> Fix | None:
    """A method reading its object's own reverse relation by hand
    (``Through.objects.filter(issue_id=self.id)`` in a property of Issue),
    called once per object: the relation's manager reads a prefetch, so the
    fix is the manager there and a prefetch where the objects are loaded,
    wherever the loop is (a template's included). Not in a receiver run per
    save: its object comes from the save, not from a queryset."""
    location = queries[0].location
    if model is None or location is None or not location.path.endswith(".py"):
        return None
    found = own_relation_query(location)
    if found is None:
        return None
    owner, keyword, queryset = found
    name = keyword.removesuffix("__exact").removesuffix("__pk").removesuffix("__id")
    field = next((f for f in model._meta.concrete_fields if name in (f.name, f.attname)), None)
    related = getattr(field, "related_model", None)
    if field is None or related is None or field.many_to_many or field.one_to_one:
        return None
    if name != field.name and (name != field.attname or field.target_field is not related._meta.pk):
        return None
    if owner not in {klass.__name__ for klass in related.__mro__}:
        return None
    if runs_per_write(queries, repeating_loop(queries)) is not None:
        return None
    accessor = field.remote_field.get_accessor_name()
    owner_name = short(related._meta.label)
    where = (
        f"prefetch it where the {owner_name} objects are loaded (for a template's loop, on "
        "the queryset the view hands it)"
    )
    if queryset == manager(model):
        return Fix(
            "prefetch_related",
            accessor,
            f"{location.function}() reads each {owner_name}'s own {accessor} by hand, one "
            f"query per object: read self.{accessor}.all() there instead, and {where}: "
            f".prefetch_related({accessor!r})",
        )
    # A query shaped by hand (select_related, a filter): .all() on objects
    # loaded without the prefetch would drop that shape (a join lost is a
    # query per row again), so those keep the query as written.
    attribute = f"prefetched_{accessor}"
    return Fix(
        "prefetch_related",
        accessor,
        f"{location.function}() reads each {owner_name}'s own {accessor} by hand, one query "
        f"per object: {where}: .prefetch_related(Prefetch({accessor!r}, queryset={queryset}, "
        f"to_attr={attribute!r}))  (from django.db.models import Prefetch); and in "
        f"{location.function}() read getattr(self, {attribute!r}, None), with the query as "
        f"written when it is None: {owner_name} objects loaded without that prefetch keep "
        "the query's own shape, which self." + accessor + ".all() would drop",
    )


def _once_per_write(fix: Fix, queries: list[Query]) -> Fix:
    """A query a function runs inside each save or signal (a post_save
    receiver counting a product's alerts, a search index preparing each
    saved product), seen so on the stack: each run has one object, the one
    written, and no queryset of the others to annotate or batch on. The
    writes repeat it; their loop (where djperf saw it) is where one query
    for all of them could go, after the writes."""
    location = queries[0].location
    if fix.text.startswith("no code") or location is None:
        return fix
    loop = repeating_loop(queries)
    hop = runs_per_write(queries, loop)
    if hop is None:
        return fix
    lines = lines_of(queries[0])
    where = f" ({described(loop, location)})" if loop is not None else ""
    return Fix(
        fix.method,
        fix.lookup,
        f"no code for this line: {lines[hop].function}() runs inside each write or signal at "
        f"{lines[hop + 1]} (a signal receiver, or a save() override), once per write, with "
        "the object written: no queryset there holds the others to batch on "
        f"({fix.text.partition('  # ')[0]}). One query for all of them fits only where the "
        f"writes repeat{where}, after them, with the per-write query stopped and its work "
        "done once there",
        model=fix.model,
        omits=fix.omits,
    )


def _from_the_line(fix: Fix, model: Any, location: Location | None) -> Fix:
    """The loop's own queryset expression taking all the values at once, when
    the line is one filter()/get() whose only loop-dependent argument is a
    field of the model: it keeps whatever the expression starts from (a
    related manager, ``self.product_queryset``), which a batch on
    ``Model.objects`` would lose."""
    if fix.method != "in_bulk" or model is None or location is None:
        return fix
    keys = {"pk": model._meta.pk.attname}
    for field in model._meta.concrete_fields:
        keys[field.name] = keys[field.attname] = field.attname
    rewritten = batched_rewrite(location, keys)
    if rewritten is None and "<" in fix.text:
        # The SQL could not name the lookup: the line can.
        rewritten = batched_rewrite(location, keys, from_managers=True)
    if rewritten is None:
        return fix
    return Fix(fix.method, fix.lookup, rewritten, fix.model)


def _keeping_the_shape(fix: Fix, model: Any, location: Location | None) -> Fix:
    """The batched query with the loop query's select_related(), only() ...
    as its line wrote them: without them it would load other columns, or
    bring an N+1 back."""
    if fix.method != "in_bulk" or model is None or location is None:
        return fix
    start = manager(model)
    if not fix.text.startswith(start + "."):
        return fix
    shape = shaping_calls(location)
    if not shape or (".values" in shape and ".in_bulk(" in fix.text):
        return fix
    return Fix(fix.method, fix.lookup, start + shape + fix.text[len(start) :], fix.model)


def _built_at(recording: Recording, query: Query, label: str | None) -> Location | None:
    """Where the queryset behind a statement was built, when an evaluation of
    the same model at the statement's line says so and it is another line."""
    if query.location is None or label is None:
        return None
    for evaluation in recording.evaluations:
        if (
            evaluation.location == query.location
            and evaluation.model == label
            and evaluation.built is not None
            and evaluation.built != query.location
        ):
            return evaluation.built
    return None


def _an_end_of(through: Any, model: Any) -> bool:
    """Whether `model` is one of the two models a many-to-many table joins
    (a query on Review joined through Book.tags is not a read of the tags)."""
    if through is model:
        return True
    ends = {f.related_model for f in through._meta.concrete_fields if f.is_relation}
    return model in ends


def _has_field(label: str | None, name: str | None) -> bool:
    model = model_for_label(label)
    if model is None or name is None:
        return False
    try:
        model._meta.get_field(name)
    except Exception:  # FieldDoesNotExist
        return False
    return True


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


def _batch_fix(model: Any, fingerprint: str, written: dict[str, str] | None = None) -> Fix:
    """One query for all the values: in_bulk, filter(x__in=...) with the
    loop query's other filters, or for a count or an existence test per parent
    row, an annotation on the parents. The batched query never loads more
    rows than the loop's did. `written`: the loop line's constant keyword
    arguments as the code wrote them, to show their values."""
    ranged = _range_fix(model, fingerprint, written or {})
    if ranged is not None:
        return ranged
    match = _WHERE_COLUMN.search(fingerprint) or _COMPARED_COLUMN.search(_where(fingerprint))
    if match is None:
        return Fix(
            "in_bulk",
            None,
            f"{manager(model)}.filter(<the condition that takes the loop's values>__in=values)",
        )
    column = match.group(2).strip('"`')
    where_model = model_for_table(match.group(1)) if match.group(1) else model
    field = _field_for_column(where_model, column)
    if field is None:
        return Fix("in_bulk", None, f"{manager(model)}.in_bulk(ids)")
    if written and where_model is model and _is_written(field, written):
        # The loop's line gave this column a constant (status=Alert.OPEN):
        # the values come in another one.
        varying = _varying_field(model, fingerprint, written)
        if varying is not None:
            field, column = varying, varying.column
    counting = COUNT.match(fingerprint) is not None
    testing = _EXISTS.match(fingerprint) is not None
    if (
        where_model._meta.auto_created
        and (where_model is not model or counting or testing)
        and _an_end_of(where_model, model)
    ):
        # A many-to-many read, counted or tested through its table, per parent
        # (Django counts book.tags on the through table alone).
        return _many_to_many_fix(where_model, field, counting=counting, testing=testing)
    if where_model is not model:
        shared = None if counting or testing else _through_relation(model, fingerprint)
        return shared or _joined_fix(model, where_model, field, counting=counting)
    if field.is_relation and not field.primary_key and (counting or testing):
        others = _other_filters(model, fingerprint, column, written)
        return _annotation_fix(
            field, exists=testing, filtered=" AND " in _where(fingerprint), others=others
        )
    if "FOR UPDATE" in fingerprint.upper():
        return Fix(
            "select_for_update",
            "pk",
            f"{manager(model)}.select_for_update().filter(pk__in=ids).order_by('pk')"
            "  # one lock query",
        )
    if _FIRST_PER_VALUE.search(fingerprint) and not (field.primary_key or field.unique):
        # .order_by(...).first() per value of a column that is not unique:
        # filter(x__in=...) would read every row of each value, not the first.
        compared = _compared_fields(model, fingerprint) or [field.attname]
        if len(compared) == 1:
            partition = repr(compared[0])
            per = compared[0]
        else:
            # The SQL does not say which of them take the loop's values.
            partition = f"[<those of {', '.join(map(repr, compared))} that vary>]"
            per = "value"
        ordering = _ordering(model, fingerprint)
        order = f"[{', '.join(map(repr, ordering))}]" if ordering else "<the line's ordering>"
        return Fix(
            "first_per_value",
            field.attname,
            f"the first row per {per} in one query: a Window(RowNumber(), "
            f"partition_by={partition}, order_by={order}) filtered to "
            "row 1, or DISTINCT ON on PostgreSQL; no in_bulk(), which reads every row",
        )
    others = _other_filters(model, fingerprint, column, written)
    extra = "".join(f", {other}" for other in others) if others is not None else ", ..."
    if field.primary_key and not extra:
        return Fix("in_bulk", None, f"{manager(model)}.in_bulk(ids)")
    key = "pk" if field.primary_key else field.attname
    return Fix("in_bulk", field.attname, f"{manager(model)}.filter({key}__in=values{extra})")


# The first column compared with = or IN anywhere in a WHERE clause (after a
# condition such as PostgreSQL's bare boolean "is_active" or an IS NULL).
_COMPARED_COLUMN = re.compile(r"(?:^|\(|\bAND\s+)\s*(?:([\w\"`]+)\.)?([\w\"`]+)\s*(=|IN)\s", re.I)
_EQUAL_COLUMNS = re.compile(r"(?:([\w\"`]+)\.)?([\w\"`]+)\s*=\s*#", re.I)


def _is_written(field: Any, written: dict[str, str]) -> bool:
    return any(name in written for name in (field.name, field.attname, f"{field.name}__exact"))


def _varying_field(model: Any, fingerprint: str, written: dict[str, str]) -> Any:
    """The first field of `model` the WHERE clause compares with a value
    that the loop's line did not write as a constant."""
    for table, column in _EQUAL_COLUMNS.findall(_where(fingerprint)):
        if table and model_for_table(table.strip('"`')) is not model:
            continue
        field = _field_for_column(model, column.strip('"`'))
        if field is not None and not _is_written(field, written):
            return field
    return None


def _compared_fields(model: Any, fingerprint: str) -> list[str]:
    """The fields of `model` its WHERE clause compares with a value, in order."""
    names: list[str] = []
    for table, column in _EQUAL_COLUMNS.findall(_where(fingerprint)):
        if table and model_for_table(table.strip('"`')) is not model:
            continue
        field = _field_for_column(model, column.strip('"`'))
        if field is not None and field.attname not in names:
            names.append(field.attname)
    return names


def _ordering(model: Any, fingerprint: str) -> list[str] | None:
    """The statement's ORDER BY as field names of `model` ('-micro' for a
    descending column); None when a term is not one of its columns."""
    match = re.search(r"\bORDER BY\b(.*?)(?:\bLIMIT\b|\bFOR UPDATE\b|$)", fingerprint, re.I | re.S)
    if match is None:
        return None
    names: list[str] = []
    for term in match.group(1).split(","):
        found = _ORDER_TERM.match(term.strip())
        if found is None:
            return None
        table, column, direction = found.groups()
        if table and model_for_table(table.strip('"`')) is not model:
            return None
        field = _field_for_column(model, column.strip('"`'))
        if field is None:
            return None
        descending = (direction or "").upper() == "DESC"
        names.append(("-" if descending else "") + field.name)
    return names or None


_ORDER_TERM = re.compile(r"^(?:([\w\"`]+)\.)?([\w\"`]+)(?:\s+(ASC|DESC))?$", re.I)
# ORDER BY ... LIMIT: the first row per value (a get() has a LIMIT but no ORDER BY).
_FIRST_PER_VALUE = re.compile(r"\bORDER BY\b.*\bLIMIT #", re.I | re.S)
# A condition on a column, with a PostgreSQL cast ("title::text LIKE #")
# and MySQL's "LIKE BINARY" allowed.
_CONDITION = re.compile(
    r"^\(?(?:[\w\"`]+\.)?([\w\"`]+)(?:::\w+)?\s*"
    r"(=|<>|!=|<=|>=|<|>|IN|IS NULL|IS NOT NULL|LIKE)",
    re.I,
)
_LOOKUPS = {
    "=": "",
    "<>": "__ne",
    "!=": "__ne",
    "<": "__lt",
    "<=": "__lte",
    ">": "__gt",
    ">=": "__gte",
    "IN": "__in",
    "IS NULL": "__isnull",
    "IS NOT NULL": "__isnull",
}


def _other_filters(
    model: Any, fingerprint: str, column: str, written: dict[str, str] | None = None
) -> list[str] | None:
    """The loop query's conditions beside the one on `column`, as keyword
    arguments: with the value the loop's line wrote when it is one that
    means the same anywhere (`written`: "status='f'"), else with the value
    left out ("rating__gt=..."; a LIKE, whose lookup the SQL does not tell,
    as "<the loop's filter on title>"); None when they cannot be written out
    (an OR, a subquery, an expression)."""
    where = _where(fingerprint)
    if re.search(r"\bOR\b|\bSELECT\b", where, re.I):
        return None
    names = []
    for condition in where.split(" AND "):
        found = _CONDITION.match(condition.strip())
        if found is None:
            return None
        name = found.group(1).strip('"`')
        if name == column:
            continue
        field = _field_for_column(model, name)
        if field is None:
            return None
        lookup = _LOOKUPS.get(found.group(2).upper())
        if lookup is None:  # LIKE: contains, startswith, endswith ...
            names.append(_written_like(field, written or {}))
        else:
            names.append(_written(field, lookup, written or {}))
    return names


_LIKE_LOOKUPS = ("contains", "startswith", "endswith", "icontains", "istartswith", "iendswith")


def _written_like(field: Any, written: dict[str, str]) -> str:
    """A LIKE condition as the loop's line wrote it (the SQL does not tell
    startswith from contains), else a placeholder naming the field."""
    for lookup in _LIKE_LOOKUPS:
        name = f"{field.name}__{lookup}"
        if name in written:
            return f"{name}={written[name]}"
    return f"<the loop's filter on {field.attname}>"


def _written(field: Any, lookup: str, written: dict[str, str]) -> str:
    """``status='f'`` as the loop's line wrote it, else ``status=...``."""
    for name in (f"{field.name}{lookup}", f"{field.attname}{lookup}"):
        for spelled in (name, f"{name}__exact") if not lookup else (name,):
            if spelled in written:
                return f"{spelled}={written[spelled]}"
    return f"{field.attname}{lookup}=..."


def _where(fingerprint: str) -> str:
    where = fingerprint.split(" WHERE ", 1)[-1]
    return re.split(r" (?:ORDER BY|LIMIT|GROUP BY|FOR UPDATE)\b", where, maxsplit=1)[0]


def _annotation_fix(
    field: Any, *, exists: bool, filtered: bool, others: list[str] | None = None
) -> Fix:
    """.count() or .exists() per parent row: count in the parents' query,
    with the loop query's other conditions (`others`, as `_other_filters`
    writes them) when they can be written out."""
    parent = short(field.related_model._meta.label)
    child = short(field.model._meta.label)
    name = field.related_query_name()
    written = filtered and others is not None and all("<" not in o for o in others)
    if exists:
        condition = (
            ("".join(f", {o}" for o in others or ()) if written else ", ...") if filtered else ""
        )
        alias = _free_name(field.related_model, f"has_{name}")
        text = (
            f"{parent}.objects.annotate({alias}=Exists({child}.objects.filter("
            f"{field.name}=OuterRef('pk'){condition})))  # then read .{alias}"
        )
    else:
        condition = ""
        if written:
            joined = ", ".join(f"{name}__{o}" for o in others or ())
            condition = f", filter=Q({joined})"
        elif filtered:
            condition = f", filter=Q({name}__...)"
        alias = _free_name(field.related_model, f"{name}_count")
        text = (
            f"{parent}.objects.annotate({alias}=Count({name!r}{condition}))  # then read .{alias}"
        )
    return Fix("annotate", name, text)


def _free_name(model: Any, name: str) -> str:
    """`name` for an annotation on `model`'s queryset, unless the model has
    an attribute of that name already (a field, a property such as oscar's
    ``has_stockrecords``, a method): annotate() refuses a field's name, and a
    property without a setter breaks on the annotated rows."""
    return f"annotated_{name}" if hasattr(model, name) else name


_WHERE_TABLES = re.compile(r"([\w\"`]+)\.[\w\"`]+\s*(?:=|IN)\s")


def _through_relation(model: Any, fingerprint: str) -> Fix | None:
    """The relation fix for the first table the WHERE clause compares that
    is a relation's intermediate model (taggit's WHERE starts with the
    content type's columns, then the TaggedItem's object_id)."""
    for table in dict.fromkeys(_WHERE_TABLES.findall(_where(fingerprint))):
        joined = model_for_table(table.strip('"`'))
        if joined is not None and joined is not model:
            found = _through_relation_fix(model, joined)
            if found is not None:
                return found
    return None


def _through_relation_fix(model: Any, through: Any) -> Fix | None:
    """Rows of `model` read through `through`, a relation's own intermediate
    model (django-taggit's TaggedItem for `tags`, a through= model), one
    parent at a time: the relation read per object, prefetched on the
    parents' queryset. Named only when every relation using that table has
    the same name (taggit's Tagged serves `tags` on many models)."""
    from django.apps import apps

    relations = [
        field
        for parent in apps.get_models()
        for field in parent._meta.many_to_many
        if getattr(field.remote_field, "through", None) is through and field.related_model is model
    ]
    names = {field.name for field in relations}
    if len(names) != 1:
        return None
    name = names.pop()
    owners = ", ".join(sorted(short(field.model._meta.label) for field in relations))
    return Fix(
        "prefetch_related",
        name,
        f".prefetch_related({name!r}) on the queryset of the objects whose {name} are read "
        f"one object at a time ({owners})",
    )


def _joined_fix(model: Any, joined: Any, field: Any, *, counting: bool) -> Fix:
    """A filter on a joined table's column (filter(author__name=...)) per value."""
    relation = next(
        (f for f in model._meta.concrete_fields if f.is_relation and f.related_model is joined),
        None,
    )
    if relation is None:
        return Fix("in_bulk", None, f"{manager(model)}.filter(<lookup>__in=values)")
    lookup = f"{relation.name}__{field.name}"
    text = f"{manager(model)}.filter({lookup}__in=values)"
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
            alias = _free_name(parent, f"{accessor}_count")
            text = f"{name}.objects.annotate({alias}=Count({query_name!r}))  # then read .{alias}"
            return Fix("annotate", query_name, text)
        if testing:
            alias = _free_name(parent, f"has_{accessor}")
            text = (
                f"{name}.objects.annotate({alias}=Exists({manager(through)}"
                f".filter({field.name}=OuterRef('pk'))))  # then read .{alias}"
            )
            return Fix("annotate", query_name, text)
        text = f"{name}.objects.prefetch_related({accessor!r})  # then read obj.{accessor}.all()"
        return Fix("prefetch_related", accessor, text)
    return Fix("in_bulk", field.attname, f"{manager(through)}.filter({field.attname}__in=values)")


def _range_fix(model: Any, fingerprint: str, written: dict[str, str]) -> Fix | None:
    """A statement whose values are the two bounds of a range of one column
    (a report summing each two-hour slice of a day): no IN list matches a
    range. One aggregate with a filtered term per range, or one read of the
    whole span split in Python. None when another condition of the
    statement may take the values too (a column compared with = that the
    line did not give a constant)."""
    if model is None:
        return None
    where = _where(fingerprint)
    bounds: dict[str, dict[str, str]] = defaultdict(dict)
    for table, column, operator in _RANGE_BOUND.findall(where):
        if table and model_for_table(table.strip('"`')) is not model:
            return None
        side = "low" if operator.startswith(">") else "high"
        bounds[column.strip('"`')][side] = _LOOKUPS[operator]
    spans = [(column, sides) for column, sides in bounds.items() if len(sides) == 2]
    if len(spans) != 1:
        return None
    for _table, column in _EQUAL_COLUMNS.findall(where):
        field = _field_for_column(model, column.strip('"`'))
        if field is None or not _is_written(field, written):
            return None
    column, sides = spans[0]
    field = _field_for_column(model, column)
    if field is None:
        return None
    name, low, high = field.name, sides["low"], sides["high"]
    bounded = f"{name}{low}=start, {name}{high}=end"
    aggregate = _AGGREGATE.match(fingerprint)
    if aggregate is not None and " GROUP BY " not in fingerprint.upper():
        function = aggregate.group(1).capitalize()
        column_read = aggregate.group(2).strip('"`')
        argument = "pk" if column_read == "*" else None
        found = _field_for_column(model, column_read)
        argument = found.name if found is not None else argument
        term = f"{function}({argument!r}, " if argument is not None else f"{function}(..., "
        text = (
            f"no IN list matches a range: each query aggregates one range of {name} "
            f"({name}{low}, {name}{high}). One query for every range: one .aggregate() with a "
            f"term per range, {term}filter=Q({bounded})) each, or, for calendar slices, "
            f".annotate(slice=Trunc({name!r}, ...)).values('slice') with the aggregate per slice"
        )
        return Fix("aggregate_per_range", name, text)
    return Fix(
        "one_span",
        name,
        f"no IN list matches a range: each query reads one range of {name} ({name}{low}, "
        f"{name}{high}). When the ranges meet end to end, read the whole span once "
        f"({manager(model)}.filter({name}{low}=<the first start>, {name}{high}=<the last end>)) "
        "and split the rows by range in Python",
    )


# A bound on a column ("date_placed" >= #); and an aggregate's function and
# column (SELECT SUM("order_order"."total_incl_tax") ...).
_RANGE_BOUND = re.compile(r"(?:([\w\"`]+)\.)?([\w\"`]+)\s*(>=|<=|>|<)\s*#", re.I)
_AGGREGATE = re.compile(
    r"^SELECT\s+(SUM|COUNT|AVG|MIN|MAX)\(\s*(?:[\w\"`]+\.)?([\w\"`*]+)\s*\)", re.I
)


def _field_for_column(model: Any, column: str) -> Any:
    if model is None or not column:
        return None
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field
    return None
