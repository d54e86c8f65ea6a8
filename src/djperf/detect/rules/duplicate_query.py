"""duplicate-query: the same query with the same values run more than once."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from djperf._format import duration as shown
from djperf.detect._loads import distinct_instances, loaded_by, relation_groups
from djperf.detect._loops import (
    Loop,
    called_from,
    described,
    holder,
    lines_of,
    loop_called_again,
    reached_unnamed,
    repeating_loop,
)
from djperf.detect._models import (
    OwnPrefetch,
    model_for_table,
    own_prefetch,
    short,
    statement_table,
    using_own_prefetch,
)
from djperf.detect._source import (
    cache_clearing_methods,
    closing_parenthesis,
    constant_call_arguments,
    in_a_cached_property,
    in_a_loop,
    in_a_property,
    narrowing_calls,
    source_line,
)
from djperf.detect._statements import COUNT, reads_between_writes
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
from djperf.record.events import LazyLoad, Query
from djperf.record.scope import Recording
from djperf.record.work import Drive

rule = Rule(__name__, reads=("queries",), count=2, warn_from=2)

# Relations read through a related manager, which caches nothing: reading one
# twice for the same instance sends the same query twice.
_MANAGER_KINDS = frozenset({"reverse_foreign_key", "many_to_many", "generic_relation"})


@rule.detects
def duplicate_query(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """The same query with the same values run more than once in one request
    (or one call from test code)."""
    count = thresholds["count"]
    # (By id: a Query's parameters, when kept, may not be hashable.)
    reads = list(reads_between_writes(recording))
    epochs = {id(query): epoch for query, epoch in reads}
    for unit in by_request((query for query, _ in reads), _request):
        groups: dict[tuple[Any, ...], list[Query]] = defaultdict(list)
        # The values each statement ran with at each line: a line that also
        # asked for others repeats some of its lookups, not all.
        values: dict[tuple[str, Location | None], set[Any]] = defaultdict(set)
        for query in unit:
            if query.params_key is not None:
                groups[(query.sql, query.params_key, epochs[id(query)])].append(query)
                values[(query.sql, query.location)].add(query.params_key)
        for group in groups.values():
            repetition = judge(group, count, _drive, library_call_of=_library_call)
            if repetition is not None:
                first = repetition.events[0]
                varied = len(values[(first.sql, first.location)]) > 1
                yield _same_query(repetition, thresholds["warn_from"], varied, recording)
    yield from _manager_rereads(recording, count, thresholds["warn_from"])


def _request(query: Query) -> int | None:
    return query.request


def _drive(query: Query) -> Drive | None:
    return query.drive


def _library_call(query: Query) -> int | None:
    return query.library_call


def _same_query(
    repetition: Repetition[Query],
    warn_from: int,
    varied: bool = False,
    recording: Recording | None = None,
) -> Finding:
    queries = repetition.events
    first = queries[0]
    table = statement_table(first.fingerprint)
    model = model_for_table(table) if table else None
    label = model._meta.label if model is not None else None
    duration = sum(q.duration for q in queries[1:])
    lines = sorted({str(q.location) for q in queries if q.location is not None})
    if first.admin is not None and COUNT.match(first.fingerprint):
        return _changelist_counts(first.admin, label or table or "?", queries, duration, warn_from)
    tests = repetition.driven_by_tests
    message = (
        f"The same {short(label) if label else table} query with the same values ran "
        f"{len(queries)} times ({', '.join(lines) or 'lines unknown'}): the repeats "
        f"cost {shown(duration)}. Keep the first result and reuse it."
    )
    if tests:
        message += test_driven(repetition, "query")
    # Where most of the copies ran: a lookup made once in a view and again on
    # every include of a template is the template's to keep.
    busiest = _most_common(q.location for q in queries) or first.location
    location = repetition.test_line if tests and repetition.test_line else busiest
    fix = Fix("reuse", None, _reuse(queries, busiest, varied, recording))
    return rule.finding(
        message=message,
        severity=severity(len(queries) - 1, warn_from, driven_by_tests=tests),
        model=label,
        count=len(queries),
        location=location,
        fix=fix,
        duration=duration,
        in_tests=tests or in_test_code(location),
    )


def _reuse(
    queries: list[Query],
    busiest: Location | None,
    varied: bool = False,
    recording: Recording | None = None,
) -> str:
    """How to keep the first result, by where the copies ran: at one line
    that repeats inside its own function (a variable), at one line of a
    function called again and again (get it once before the loop that calls
    it, and pass it in), at several places (once per request, handed to
    each), or in a cached_property (another object computed it again).
    `varied`: the same line also ran with other values, so the loop asks
    for several and only some again: a dictionary of what it already got,
    not one value kept."""
    first = queries[0]
    what = f"what the call at {busiest} returns" if first.via and busiest else "the result"
    places = sorted({q.location for q in queries if q.location is not None}, key=str)
    # (A test's own line among the copies is the test's to change, not a place.)
    places = [p for p in places if not in_test_code(p)] or places
    # (A template's line is in no function to pass a value into.)
    python = bool(places) and places[0].path.endswith(".py")
    memo = (
        "it also ran with other values: keep a dictionary from the values asked for to "
        "their results"
    )
    if len(places) >= 2 and len({(p.path, p.function) for p in places}) == 1:
        # Several lines of one function: a variable at the first serves them all.
        first_line = min(places, key=lambda p: p.line)
        text = (
            f"keep {what} of {first_line} in a variable and reuse it at "
            f"{', '.join(str(p.line) for p in places if p != first_line)}"
        )
    elif len(places) >= 2 and (reader := _property_read_again(queries, places)) is not None:
        # Copies in two functions, most of them at one property read again
        # and again (a template reading range.is_reorderable per row): the
        # property is what to cache.
        text = (
            f"{reader.function} is a property that runs it on every read (at {reader}): make it "
            "a cached_property (django.utils.functional) so one object computes it once"
            + _dropped_with(reader)
        )
    elif len(places) >= 2:
        # A list view's paginator counts the list it shows, filtered by the
        # request: equal to a count of every row only while nothing is.
        paged = [p for p in places if COUNT.match(first.fingerprint) and _pages_a_list(p)]
        others = [p for p in places if p not in paged]
        listed = ", ".join(map(str, others[:-1])) + f" and {others[-1]}" if others else ""
        text = (
            f"the copies run at {listed}: get {what} once per request and hand it to each "
            "(an argument, a context variable, or a value cached on the request)"
        )
        if paged:
            view = (
                f"the one at {', '.join(map(str, paged))} is the count of the list the view "
                "pages, which the request's filters narrow: the same as the others only while "
                "nothing is filtered"
            )
            text = (
                f"{text}; {view}: leave it out"
                if len(others) >= 2
                else f"no code: {view}, so there is no one result to share; leave them"
            )
    elif (
        places
        and places[0].function != "<module>"
        and python
        and in_a_loop(places[0]) is False
        and in_a_cached_property(places[0])
    ):
        text = _recomputed(queries, places[0])
    elif python and in_a_loop(places[0]) is False and places[0].function != "<module>":
        callers = sorted(
            {q.caller for q in queries if q.caller is not None}, key=lambda c: (c.path, c.line)
        )
        function = f"{places[0].function}()"
        loop = repeating_loop(queries)
        if in_a_property(places[0]):
            # The same object's property read again (a template reading
            # obj.thumbnail five times): keep what it computed. Read by
            # several functions (a search index's prepare_price() and
            # prepare_num_in_stock() on a product just saved), a cached value
            # could outlive a write between them: the fix says so.
            text = (
                f"{places[0].function} is a property that runs it on every read: make it a "
                "cached_property (django.utils.functional) so one object computes it once"
                + _dropped_with(places[0])
            )
            if len(callers) > 1 and (
                any(c.path.endswith(".py") for c in callers) or len({c.path for c in callers}) > 1
            ):
                # Readers in Python, or in several templates: something may
                # write between them. (Lines of one template are one render.)
                relation = _own_relation_read(places[0])
                if relation is not None:
                    # Rows of the object's own relation (oscar's
                    # product.stockrecords): code anywhere adds them, after
                    # the object was read (a test's factory, an importer).
                    text = _read_once_before_caching(places[0].function, relation, callers)
                else:
                    text += (
                        f", if nothing it reads changes between its readers "
                        f"({', '.join(map(str, callers))}); else read it once and hand the "
                        "value to each"
                    )
            return f"the query is {first.via}'s: {text}" if first.via else text
        again = loop_called_again(queries, loop) if loop is not None else None
        # (The copy at the place the fix is for, not a test's own.)
        anchor = next((q for q in queries if q.location == places[0]), first)
        unnamed = reached_unnamed(anchor, loop.depth if loop is not None else 1)
        if unnamed is not None:
            text = _not_handed_in(queries, lines_of(anchor), unnamed)
        elif loop is not None and again is not None:
            # The loop's own function was called again (by an offer's
            # apply and consume stages, each running is_satisfied()): what
            # it keeps lives one call, and the copies come from several.
            text = (
                f"{function} runs it on every call, and {described(loop, places[0])} repeats "
                f"the calls; but {called_from(again)}, and the same values come back "
                f"in each call: a value kept in {again.function} lives one call. Keep it "
                "where those calls meet (on an object they share, or for the request), and "
                "hand it down"
            )
        elif loop is not None:
            # The loop that calls it, however many calls out: that is where
            # a value can be got once, or a dictionary kept for the loop.
            where = described(loop, places[0])
            if varied or constant_call_arguments(places[0]) is False:
                # Values from the calls' arguments are the same this time,
                # not always: a dictionary serves whatever the loop asks.
                reason = (
                    memo
                    if varied
                    else (
                        "its values come from the arguments (the same this time, not always): "
                        "keep a dictionary from the values asked for to their results"
                    )
                )
                text = (
                    f"{function} runs it on every call, and {where} repeats the calls; {reason} "
                    f"{holder(loop)} (or for the request), and hand it down"
                )
            elif (
                written := _written_in_the_loop(recording, queries, loop) if recording else None
            ) is not None:
                # The loop writes the table before these copies (a first
                # pass that creates what later passes find): a result got
                # before the loop, or kept from before that write, is stale.
                text = (
                    f"{function} runs it on every call, and {where} repeats the calls; that "
                    f"loop also writes this table (at {written}) before these copies, so a "
                    "result got before the loop would be stale: keep the first result got "
                    "after that write (a variable the loop fills on first use) and hand it "
                    "down"
                )
            else:
                text = (
                    f"{function} runs it on every call, and {where} repeats the calls: get "
                    f"{what} once before that loop and hand it down (or cache it for the "
                    "request)"
                )
        elif len(callers) == 1 and all(q.caller == callers[0] for q in queries):
            calls = len(queries)
            text = (
                f"{function} runs it on every call, and {callers[0]} called it {calls} "
                f"times: get {what} once, before what repeats that call, and pass it in "
                "(or cache it for the request)"
            )
        elif len(callers) > 1:
            text = (
                f"{function} runs it on every call, from {', '.join(map(str, callers))}: "
                f"get {what} once and pass it in (or cache it for the request)"
            )
        else:
            # Called from a template, or from code djperf could not see.
            text = (
                f"{function} runs it on every call ({len(queries)} calls): get {what} once, "
                "outside it, and pass it in (or cache it for the request)"
            )
    elif varied and python and in_a_loop(places[0]):
        # (The loop further out that calls the function again.)
        outer = repeating_loop(queries, beyond=1)
        again = loop_called_again(queries, outer) if outer is not None else None
        if outer is not None and again is not None and places[0].function != "<module>":
            text = (
                f"{memo}; {places[0].function}() is called again by {described(outer, places[0])}"
                f", but {called_from(again)}, and the same values come back in each "
                f"call: a dictionary kept in {again.function} lives one call too. Keep "
                "it where those calls meet (on the object the values belong to, or for the "
                "request), and hand it in"
            )
        elif outer is not None and places[0].function != "<module>":
            # The function is called again from a loop further out: a
            # dictionary made inside it lives one call, and the same values
            # come back in the next.
            text = (
                f"{memo}; {places[0].function}() is called again by {described(outer, places[0])}"
                f", and the same values come back from call to call: keep the dictionary "
                f"{holder(outer)} (or for the request) and hand it in; one made inside "
                f"{places[0].function}() lives one call"
            )
        elif places[0].function != "<module>" and (callers_of := _calls(queries)):
            # The same values come back in other calls of the function (from
            # other places): a dictionary made in it lives one call.
            text = (
                f"{memo}; but the copies come from separate calls of {places[0].function}() "
                f"(from {', '.join(map(str, callers_of[:4]))}"
                f"{' ...' if len(callers_of) > 4 else ''}), and a dictionary made inside it "
                "lives one call: keep it where those calls meet (on the object the values "
                "belong to, or for the request) and hand it in"
            )
        else:
            text = f"{memo}, before the loop at {places[0]}, and look each one up there first"
    else:
        text = f"keep {what} in a variable (or cached_property) and reuse it"
    if first.via:
        text = f"the query is {first.via}'s: {text}"
    return text


def _not_handed_in(queries: list[Query], lines: tuple[Location, ...], hop: int) -> str:
    """No code when the way from the query to the code that repeats it
    passes through code that is not the project's: nothing there takes a
    value of the project's to pass on. Every line the copies came from at
    that step is named (a view's loop header and the reverse() in it)."""
    function = lines[hop].function
    callers = sorted(
        {
            way[hop + 1]
            for q in queries
            if len(way := lines_of(q)) > hop + 1 and way[hop].function == function
        },
        key=str,
    ) or [lines[hop + 1]]
    shown = ", ".join(map(str, callers[:-1])) + " and " if len(callers) > 1 else ""
    return (
        f"no code: {function}() is not called by name from the code that repeats it: it is "
        f"reached from {shown}{callers[-1]} through Django's or a library's code (or "
        "Python's own: a for, a comparison, len()), which passes nothing of yours in, so no "
        "result got before can be handed to it. Keep the result where the calls meet: on an object "
        "they all share (one that lives as long as the result stays true), or for the "
        "request"
    )


def _written_in_the_loop(recording: Recording, copies: list[Query], loop: Loop) -> Location | None:
    """The line of a write of the copies' table, made before the first copy
    by a pass of `loop`, the loop that repeats them (a reset command whose
    first migrate creates the superuser the later ones find)."""
    table = statement_table(copies[0].fingerprint)
    if table is None:
        return None
    first = copies[0].started
    for query in recording.queries:
        if query.started >= first:
            break
        if (
            query.fingerprint[:6].upper() in ("INSERT", "UPDATE", "DELETE")
            and statement_table(query.fingerprint) == table
            and loop.line in lines_of(query)
        ):
            return query.location
    return None


def _calls(queries: list[Query]) -> list[Location]:
    """The lines that called the function of the queries' line, when the
    queries came by more than one way (other callers, or other lines further
    out): separate calls of it."""
    ways = {(q.caller, q.outer) for q in queries}
    if len(ways) < 2:
        return []
    return sorted({q.caller for q in queries if q.caller is not None}, key=str)


def _property_read_again(queries: list[Query], places: list[Location]) -> Location | None:
    """The line in a @property where most of the copies ran, when the
    property ran them more than once."""
    counts = Counter(q.location for q in queries if q.location is not None)
    line, count = counts.most_common(1)[0] if counts else (None, 0)
    if line is None or count < 2 or count * 2 <= len(queries):
        return None
    if not line.path.endswith(".py") or not in_a_property(line) or in_a_loop(line) is not False:
        return None
    return line


# A property's read of one of its object's related managers:
# `return self.stockrecords.exists()`.
_OWN_RELATION = re.compile(
    r"\bself\.(\w+)\.(?:all|exists|count|filter|exclude|first|last|get|aggregate|values|"
    r"values_list|order_by)\("
)


def _own_relation_read(place: Location) -> str | None:
    """The related manager of `self` the property's line reads, if any."""
    found = _OWN_RELATION.search(source_line(place))
    return found.group(1) if found else None


def _read_once_before_caching(function: str, relation: str, callers: list[Location]) -> str:
    """A property over its object's related rows, read by several readers:
    a cached_property would outlive any change of those rows made after a
    read, wherever in the code or its tests; reading it once per request
    does not."""
    return (
        f"{function} is a property that runs it on every read, over self.{relation}, rows "
        f"other code adds and removes: read it once and hand the value to each reader "
        f"({', '.join(map(str, callers))}; in a template, {{% with %}} around them). A "
        "cached_property (django.utils.functional) would keep the first answer for the "
        f"object's life, stale wherever code changes {relation} after a read (a "
        f"{relation}.create() on an object already read, in the code or its tests), unless "
        f"each such place drops it (del obj.{function})"
    )


def _dropped_with(reader: Location) -> str:
    """A class that drops its cached state in methods of its own
    (``invalidate_cached_queryset()``) must drop a new cached_property
    there too, or it goes stale after them."""
    methods = cache_clearing_methods(reader)
    if not methods:
        return ""
    listed = " and ".join(f"{name}()" for name in methods[:3])
    return (
        f", and drop it where the class drops its other cached state "
        f"(del self.{reader.function} in {listed}), or it goes stale after them"
    )


def _recomputed(queries: list[Query], place: Location) -> str:
    """A cached_property runs once per object: the same query again from it
    means other objects computed it again, each loaded or copied anew (a
    fresh query for a row already loaded, a copy that drops the cache). No
    variable or cache at the line helps; one object shared does, and where
    the others are made is not on the stack djperf saw."""
    callers = sorted({q.caller for q in queries if q.caller is not None}, key=str)
    read = f" (read at {', '.join(map(str, callers))})" if callers else ""
    return (
        f"no code: {place.function} is a cached_property, computed once per object, and it "
        f"ran {len(queries)} times with the same values{read}, so as many objects computed "
        "it: the same rows loaded again as new objects, or copies made without the cached "
        "value. Share one object between those readers (or keep the result where the "
        "objects come from); djperf cannot see where the other objects were made"
    )


def _most_common(locations: Iterable[Location | None]) -> Location | None:
    """The location most queries ran at; the earliest on a tie."""
    counts = Counter(location for location in locations if location is not None)
    return counts.most_common(1)[0][0] if counts else None


def _changelist_counts(
    admin: Location, label: str, queries: list[Query], duration: float, warn_from: int
) -> Finding:
    """An admin changelist counts its rows for the paginator and again for
    the "(N total)" beside a filtered count: without a filter, the same count
    twice, a full scan each on a big table."""
    fix = Fix("show_full_result_count", None, f"show_full_result_count = False on {admin.function}")
    return rule.finding(
        message=(
            f"The admin changelist of {short(label)} counted the same rows {len(queries)} "
            f"times, once for the page and once for the total: the repeats cost "
            f"{shown(duration)}. {fix.text}"
        ),
        severity=severity(len(queries) - 1, warn_from),
        model=label if "." in label else None,
        count=len(queries),
        location=queries[0].location,
        fix=fix,
        duration=duration,
        built=admin,
    )


def _manager_rereads(recording: Recording, count: int, warn_from: int) -> Iterable[Finding]:
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
        for query, epoch in reads_between_writes(recording, [load.queries[0] for load in loads])
    }
    # (A load's request and its call from test code are part of what must be
    # the same: a re-read by another request, or another call, is no repeat.)
    same: dict[tuple[Any, ...], list[LazyLoad]] = defaultdict(list)
    for load in loads:
        if id(load) in covered:
            continue
        first = load.queries[0]
        # A weakref to an object without a callback is shared: one per instance.
        key = (id(load._instance), load.model, load.field, first.sql, first.params_key)
        drive = load.drive.serial if load.drive is not None else None
        same[(*key, epochs.get(id(first)), load.request, drive)].append(load)
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
        refined = _as_written(sets[0][0])
        places = {_place(line) for line in _read_at(sets)}
        separate = len(places) > 1 or _called_again(sets)
        # (Templates only: one render, where a {% with %} around an include
        # spans the reads.)
        in_python = any(path.endswith(".py") for path, _ in places)
        chunked = [
            load.location
            for loads in sets
            for load in loads
            if load.evaluation is not None and load.evaluation.chunked and load.location
        ]
        if chunked and len(set(_read_at(sets))) > 1:
            # One read through iterator(): nothing kept for the other.
            fix = Fix("reuse", field, _iterated_again(owner, field, chunked[0], sets))
        elif refined and separate and (in_python or _called_again(sets)):
            # A variable at one read serves no other: the reads are in
            # other functions, or in other calls of one.
            own = own_prefetch(sets[0][0].model, field)
            fix = Fix(
                "Prefetch",
                field,
                _refined_once(owner, field, refined, sets, own)
                + _read_on_its_rows(recording, sets, own),
            )
        elif refined:
            # .filter(), .order_by(), a slice, .last(): the same rows again,
            # never .all(), which would read every row of the relation.
            fix = Fix(
                "reuse",
                field,
                f"keep the result of {owner}.{field}{refined} in a variable (or a "
                "cached_property) and use it again",
            )
        elif separate:
            # Read in several functions or templates (two properties and a
            # page, a receiver and an e-mail), or at one line of a function
            # called again and again: no variable spans them; a prefetch on
            # the instance serves every .all() after it.
            fix = Fix("prefetch_related_objects", field, _prefetch_once(owner, field, sets))
        else:
            fix = Fix(
                "reuse",
                field,
                f"{field} = list({owner}.{field}.all()), then use {field} "
                f"(in a template: {{% with {field}={owner}.{field}.all %}})",
            )
        instances = "the same instance" if len(sets) == 1 else f"each of {len(sets)} instances"
        lead = {
            "prefetch_related_objects": "Load it once: ",
            "Prefetch": "Keep it for every read: ",
        }.get(fix.method, "Keep the first result: ")
        yield rule.finding(
            message=(
                f"{short(model)}.{field} was read {reads} times for {instances} with nothing "
                f"written between ({', '.join(lines) or 'lines unknown'}): a related manager "
                f"caches nothing, so the repeats cost {len(repeats)} queries, "
                f"{shown(duration)}. " + lead + fix.text
            ),
            severity=severity(len(repeats), warn_from),
            model=model,
            field=field,
            count=reads,
            location=sets[0][1].location,
            fix=fix,
            duration=duration,
        )


def _iterated_again(owner: str, field: str, chunked: Location, sets: list[list[LazyLoad]]) -> str:
    """The same rows read again because one read went through iterator(),
    which fills no result cache (oscar's QuerysetCache iterating the
    attribute values that initialize() evaluates too)."""
    others = sorted({line for line in _read_at(sets) if line != chunked}, key=str)
    return (
        f"no code: the read at {chunked} runs through .iterator(), which keeps no rows in "
        f"the queryset's result cache, so the read at {', '.join(map(str, others))} fetches "
        f"the same {owner}.{field} rows again. Where both read one queryset object (kept on "
        "an object, as a cache keeps it), evaluate it once, list(queryset), and read that list "
        "at both instead of calling .iterator() on it; where each builds its own queryset, "
        f"keep the rows once for the {owner} and read them at both"
    )


def _pages_a_list(line: Location) -> bool:
    """Whether the line hands a list view's queryset to Django's paging (a
    generic view's get_context_data() or paginate_queryset()): its COUNT is
    the paginator's."""
    return line.path.endswith(".py") and bool(
        re.search(r"\b(?:get_context_data|paginate_queryset)\(", source_line(line))
    )


def _place(line: Location) -> tuple[str, str]:
    """The function a line is in; for a template, the template (its lines
    are one render, where {% with %} spans them)."""
    return (line.path, line.function if line.path.endswith(".py") else "")


def _called_again(sets: list[list[LazyLoad]]) -> bool:
    """Whether every read was at one line of a function, not in a loop of
    its own: the function ran again for each read."""
    lines = set(_read_at(sets))
    if len(lines) != 1:
        return False
    (line,) = lines
    if not line.path.endswith(".py") or line.function == "<module>":
        return False
    looped = in_a_loop(line)
    if looped is False:
        return True
    # A loop of its own that ran once per call (an order's discounts written
    # per line by a helper looping over that line's one discount).
    queries = [load.queries[0] for loads in sets for load in loads if load.queries]
    loop = repeating_loop(queries) if looped else None
    return loop is not None and loop.depth > 0


def _refined_once(
    owner: str, field: str, refined: str, sets: list[list[LazyLoad]], own: OwnPrefetch | None
) -> str:
    """A refined related manager read again from separate functions or
    calls: no variable spans them. With the refinement's values known, a
    Prefetch into an attribute serves every read; with values that differ
    from read to read, a dictionary on the instance does."""
    lines = sorted(set(_read_at(sets)), key=str)
    if _called_again(sets):
        callers = sorted(
            {load.queries[0].caller for loads in sets for load in loads if load.queries} - {None},
            key=str,
        )
        function = lines[0].function if lines else "it"
        how = f"separate calls of {function}()" + (
            f" (from {', '.join(map(str, callers[:4]))})" if callers else ""
        )
    else:
        how = f"separate places ({', '.join(map(str, lines[:4]))})"
    related = short(sets[0][0].related_model) if sets[0][0].related_model else "Related"
    attribute = f"selected_{field}"
    loaded = _loaded_at(sets, field)
    if len(loaded) == 1:
        ((site, lookup),) = loaded
        where = f"on the queryset {_where_loaded(site)}, which loads the {owner}"
    elif loaded:
        # Instances from several querysets (a basket's lines, a product
        # page's object): each needs the prefetch, by its own lookup.
        lookup = field
        where = (
            f"on each queryset that loads the {owner}s ("
            + "; ".join(f"{_where_loaded(site)}, as {path!r}" for site, path in loaded)
            + ")"
        )
    else:
        lookup, where = field, f"on the queryset that loads the {owner}"
    text = (
        f"the reads come from {how}, and a variable in one of them lives one call: load it "
        f"once for the {owner}, .prefetch_related(Prefetch({lookup!r}, "
        f"queryset={related}.objects{refined}, to_attr={attribute!r})) {where} "
        f"(or prefetch_related_objects([{owner}], Prefetch({field!r}, ...)) "
        f"before the first read), then read {owner}.{attribute} at each place, with "
        f"getattr({owner}, {attribute!r}, None) and the query as now for {owner}s from "
        "elsewhere"
    )
    if own is not None:
        # The project's own prefetch of this relation, into an attribute
        # its readers look for (oscar's prefetch_public_children()).
        places = (
            f"on the queryset {_where_loaded(loaded[0][0])}"
            if len(loaded) == 1 and loaded[0][1] == field
            else f"on the queryset that loads the {owner}"
        )
        text = f"{using_own_prefetch(own, field, places)}; else {text}"
    if "..." in refined:
        # The filter's values are not known here: the same at every read
        # (a flag), or given by each call (an offer's id).
        text += (
            "; the filter's values as the code gives them, when they are the same at every "
            f"read; when each call gives its own, keep a dictionary on the {owner} from the "
            "values asked for to the result instead"
        )
    return text


def _read_on_its_rows(
    recording: Recording, sets: list[list[LazyLoad]], own: OwnPrefetch | None = None
) -> str:
    """What the code reads next on each row the re-read loads, one row at a
    time (a product page's children, then each child's stock records): the
    Prefetch that replaces the re-read must load that too, or its rows load
    their own as before."""
    reads = {id(load) for loads in sets for load in loads}
    found: dict[str, tuple[str, Location | None]] = {}
    for load in recording.lazy_loads:
        via = load.source.via if load.source is not None else None
        if via is None or id(via) not in reads or not load.queries or load.kind == "deferred_field":
            continue
        found.setdefault(load.field, (load.kind, load.location))
    if not found:
        return ""
    joined = [f for f, (kind, _) in found.items() if kind in ("foreign_key", "one_to_one")]
    prefetched = [f for f in found if f not in joined]
    calls = ([f".select_related({', '.join(map(repr, joined))})"] if joined else []) + (
        [f".prefetch_related({', '.join(map(repr, prefetched))})"] if prefetched else []
    )
    related = short(sets[0][0].related_model) if sets[0][0].related_model else "related"
    where = ", ".join(
        f"{field} at {location}" if location is not None else field
        for field, (_, location) in found.items()
    )
    # (The project's own prefetch, when it takes the queryset of its rows,
    # carries it there: oscar's prefetch_public_children(queryset=...).)
    method = (
        f" (or, with {own.method.rsplit('.', 1)[-1]}(), its queryset= argument)"
        if own is not None and own.takes_queryset
        else ""
    )
    return (
        f"; each {related} it loads is then read for {where}, one at a time: give that "
        f"Prefetch's queryset{method} {''.join(calls)} too, or each still loads its own"
    )


def _loaded_at(sets: list[list[LazyLoad]], field: str) -> list[tuple[Location, str]]:
    """Where the querysets that loaded the instances were built, each with
    the lookup of `field` from its rows (``product__stockrecords`` on the
    lines ``basket.all_lines()`` builds): none when they came from more than
    three. Instances no queryset loaded (made by the code, or by a test's
    factory) are left out: the fix's fallback, the query as now for objects
    from elsewhere, serves them."""
    found = set()
    for loads in sets:
        loaded = loaded_by(loads[0].source)
        if loaded is None:
            if loads[0].source is None:
                continue
            return []
        evaluation, path = loaded
        site = evaluation.built or evaluation.location
        if site is None:
            return []
        found.add((site, f"{path}__{field}" if path else field))
    return sorted(found, key=lambda entry: str(entry[0])) if len(found) <= 3 else []


def _where_loaded(site: Location) -> str:
    """ "at views.py:40"; for a line calling a generic view's get_object(),
    where the queryset it loads from is: the view's get_queryset()."""
    if "get_object(" in source_line(site):
        return (
            f"at {site} (the view's get_object() there loads it from the view's "
            "get_queryset(), its queryset or its model: give the view a get_queryset() "
            "that adds it)"
        )
    return f"at {site}"


def _read_at(sets: list[list[LazyLoad]]) -> list[Location]:
    return [load.location for loads in sets for load in loads if load.location is not None]


def _prefetch_once(owner: str, field: str, sets: list[list[LazyLoad]]) -> str:
    """One prefetch for the instance's relation, before its first read (or
    the loop that repeats the reads), when the reads are in several places."""
    queries = [load.queries[0] for loads in sets for load in loads]
    loop = repeating_loop(queries)
    first = min(_read_at(sets), key=lambda line: (line.path, line.line), default=None)
    if loop is not None and loop.depth and first is not None:
        when = f"before {described(loop, first)}"
    else:
        when = "once, before the first read"
    return (
        f"prefetch_related_objects([{owner}], {field!r}) {when} (from django.db.models), or "
        f".prefetch_related({field!r}) on the queryset that loads the {owner}: every "
        f"{owner}.{field}.all() after it reads the prefetched rows, wherever it is"
    )


def _as_written(load: LazyLoad) -> str | None:
    """The refinement of a re-read related manager, with the filter values
    its line wrote when they mean the same anywhere (``.filter(is_public=True)``
    rather than ``.filter(is_public=...)``): the line that built the queryset
    (a method's ``return self.children.filter(is_public=True)``), else the
    line that read it."""
    refined = load.refined
    if not refined or not refined.startswith(".filter("):
        return refined
    built = load.evaluation.built if load.evaluation is not None else None
    for where in (built, load.location):
        written = narrowing_calls(where, load.field) if where is not None else None
        if written is not None:
            return written + refined[closing_parenthesis(refined, len(".filter")) + 1 :]
    return refined
