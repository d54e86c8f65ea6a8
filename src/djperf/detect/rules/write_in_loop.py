"""write-in-loop: many INSERT, UPDATE or DELETE of one table from one line.

Writes are counted per *operation*: a ``delete()`` with its cascades, a
related manager's ``set()``, or a single statement. So one ``qs.delete()``
that cascades to five tables is one write, and a bulk operation is never a
write in a loop. For a deletion, the table it is about is the one Django
deletes last (the parent, after its dependants).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import models

from djperf._format import duration as shown
from djperf.detect._bulk import for_every_model, skipped_by_bulk
from djperf.detect._loops import (
    Loop,
    described,
    holder,
    lines_of,
    repeating_loop,
    runs_per_write,
    sent_at,
    write_hop,
)
from djperf.detect._models import model_for_label, model_for_table, short, statement_table
from djperf.detect._source import (
    constant_call_arguments,
    counter_upsert,
    found_or_new,
    in_a_loop,
    manager_write,
    source_line,
    used_after,
)
from djperf.detect._statements import model_name
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
from djperf.record.events import Query
from djperf.record.scope import Recording
from djperf.record.work import Drive

rule = Rule(__name__, reads=("queries",), count=3, warn_from=2)

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


# One write operation: its representative statement and all its statements.
Operation = tuple[Query, list[Query]]


@rule.detects
def write_in_loop(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """Many writes of one table from one line, one statement per row, in one
    request (or one call from test code)."""
    operations = [
        (verb, table, (chosen, statements))
        for verb, table, chosen, statements in _operations(recording)
        if chosen.location is not None
    ]
    for unit in by_request(operations, lambda operation: operation[2][0].request):
        # By line and by the line that called its function: a loop calls it
        # from one line, a helper called from three lines is three calls.
        groups: dict[tuple[Any, ...], list[Operation]] = defaultdict(list)
        # Each write's predecessor on the same table, in the order they ran.
        before: dict[int, Query] = {}
        last: dict[str, Query] = {}
        for verb, table, operation in unit:
            groups[(operation[0].location, operation[0].caller, verb, table)].append(operation)
            if table in last:
                before[id(operation[0])] = last[table]
            last[table] = operation[0]
        for (location, caller, verb, table), group in groups.items():
            repetition = judge(group, thresholds["count"], _drive, library_call_of=_library_call)
            if repetition is not None:
                yield _one_write_per_row(
                    repetition,
                    location,
                    caller,
                    verb,
                    table,
                    thresholds["warn_from"],
                    _saved_again(repetition.events, before) if verb == "update" else None,
                    pointing=[(t, op[0]) for v, t, op in unit if v in ("insert", "update")],
                )


def _drive(operation: Operation) -> Drive | None:
    return operation[0].drive


def _library_call(operation: Operation) -> int | None:
    return operation[0].library_call


# Methods a model (or a form) writes in: a loop calls them, the loop is where
# the writes can be made together.
_WRITING_METHODS = frozenset({"save", "save_base", "delete"})


def _user_line(statement: Query) -> Location | None:
    """The line that made the write: the caller of a save() override."""
    location = statement.location
    if location is not None and location.function in _WRITING_METHODS and statement.caller:
        return statement.caller
    return location


def _saved_again(operations: list[Operation], before: dict[int, Query]) -> Location | None:
    """Where the rows were inserted, when every UPDATE of the group wrote
    again exactly the values an INSERT of the same table had written just
    before it, from the same function (``obj = Model.objects.create(...)``
    then ``obj.save()``): the second write changes nothing."""
    inserted: Location | None = None
    for chosen, _ in operations:
        previous = before.get(id(chosen))
        if (
            previous is None
            or not previous.fingerprint.upper().startswith("INSERT")
            or chosen.set_key is None
            or previous.params_key != chosen.set_key
        ):
            return None
        here, there = _user_line(chosen), _user_line(previous)
        if (
            here is None
            or there is None
            or (here.path, here.function) != (there.path, there.function)
            or there.line > here.line
        ):
            return None
        inserted = there
    return inserted


def _one_write_per_row(
    repetition: Repetition[Operation],
    location: Location | None,
    caller: Location | None,
    verb: str,
    table: str,
    warn_from: int,
    saved_again: Location | None = None,
    pointing: Sequence[tuple[str, Query]] = (),
) -> Finding:
    operations = repetition.events
    through = ""
    if (
        not repetition.driven_by_tests
        and location is not None
        and caller is not None
        and location.function in _WRITING_METHODS
    ):
        # A save() override writes once per call: the line calling it per
        # row is the loop (a create() in a command, a form saved per row).
        through = f" (through the {location.function}() at {location})"
        location = caller
    model = model_for_table(table)
    relation = operations[0][0].role == "relation_write"
    rows = {operation[0].where_key for operation in operations}
    if saved_again is not None:
        fix: Fix | None = Fix(
            "drop_save",
            None,
            f"drop the save() at {location}: the insert at {saved_again} already "
            "wrote these values",
        )
    elif verb == "update" and len(rows) == 1 and None not in rows:
        fix = _save_once(model)
    elif (upsert := _upsert(location, [op[0] for op in operations])) is not None:
        fix = upsert
    elif operations[0][0].via is not None and not _a_packages_save(operations[0][0]):
        fix = _call_once(
            operations[0][0].via, verb, location, model, _each_its_own([op[0] for op in operations])
        )
    else:
        # The class a save() saved, when the statement writes its table (a
        # receiver run inside another model's save() writes its own).
        first = operations[0][0]
        saved = model_for_label(first.saved_model)
        own_save = saved is not None and model is not None
        if not own_save or saved._meta.concrete_model is not model:
            saved = model
            own_save = False
        receiver = _run_per_save(first, [op[0] for op in operations])
        if receiver is not None and verb in ("update", "delete") and not _writes_by_save(first):
            # A receiver's own queryset update() or delete() (a category's
            # subtree updated on each category's save): not the save's write.
            fix = _in_each_save(receiver, verb, model, [op[0] for op in operations])
        elif verb == "update" and not own_save and not _keyed_by_pk(model, first.fingerprint):
            # A queryset update() per call: already one statement for its rows.
            fix = _one_update_for_all_calls(model, first, [op[0] for op in operations])
        elif verb == "get_or_create" and _same_lookup(operations) and _written_constants(location):
            fix = _once_before_the_loop(model, verb)
        elif verb == "get_or_create":
            fix = _with_losses(_lookup_then_create(model, operations), verb, saved)
        elif verb == "update" and not own_save:
            # A queryset update() per row ran no save() and sent no signal:
            # its bulk form skips nothing the per-row writes ran.
            fix = _bulk_fix(verb, model, first, location)
        elif (recursive := _recursion(first, location)) is not None:
            fix = _one_per_level(verb, model, recursive)
        elif (formset := _formset_saved(location)) is not None:
            fix = _formset_fix(formset, verb, saved)
        else:
            fix = _fix(verb, saved, first, relation, location)
    if fix is not None and not repetition.driven_by_tests and saved_again is None:
        fix = _at_the_loop(fix, [operation[0] for operation in operations], location, model, verb)
    if fix is not None and verb == "insert" and fix.method == "bulk_create":
        fix = _found_or_new(fix, model, location)
        fix = _rows_pointing_at_them(fix, model, [op[0] for op in operations], pointing)
    statements = [q for _, group in operations for q in group]
    duration = sum(q.duration for q in statements)
    label = model._meta.label if model is not None else None
    what = _describe(model, table)
    tests = repetition.driven_by_tests
    if tests:
        # The application writes once per call: no bulk form fits its line.
        message = (
            f"{len(operations)} {verb}s of {what} at {location} ({len(statements)} "
            f"statements, {shown(duration)}), one per call." + test_driven(repetition, "write")
        )
        if not in_test_code(location):
            fix = None
        location = repetition.test_line or location
    elif saved_again is not None:
        assert fix is not None
        message = (
            f"{len(operations)} {verb}s of {what} from one line, one per row{through} "
            f"({len(statements)} statements, {shown(duration)}), each writing again the "
            f"values the insert at {saved_again} had just written: {fix.text}."
        )
    else:
        assert fix is not None
        message = (
            f"{len(operations)} {verb}s of {what} from one line, one per row{through} "
            f"({len(statements)} statements, {shown(duration)}): "
            f"write them together. {fix.text}"
        )
    return rule.finding(
        message=message,
        severity=severity(len(operations) - 1, warn_from, driven_by_tests=tests),
        model=label,
        count=len(operations),
        location=location,
        fix=fix,
        duration=duration,
        in_tests=tests or in_test_code(location),
    )


# Fixes that write the rows of every pass at once: they go where the loop is.
# (A queryset update() per call names its loop itself.)
_BULK_METHODS = frozenset({"bulk_create", "bulk_update", "delete"})


def _at_the_loop(
    fix: Fix, statements: list[Query], location: Location | None, model: Any, verb: str = ""
) -> Fix:
    """`fix` when the loop that repeats the writes is around `location` (or
    djperf cannot tell where it is); when it is further out, several calls
    away (an importer's row loop calling a helper that calls another that
    saves), no code: the rows of every pass meet only in that loop, and the
    calls between must hand them back to it instead of writing them."""
    loop = repeating_loop(statements)
    # (A queryset update() per call names its loop itself; the one UPDATE
    # for rows each computed from the stored value is code for one place.)
    atomic = fix.method == "update" and "Case(When(" in fix.text and " # " in fix.text
    if (
        loop is None
        or location is None
        or (fix.method not in _BULK_METHODS | {"save", "reuse"} and not atomic)
    ):
        return fix
    chain = lines_of(statements[0])
    if location not in chain or loop.depth <= chain.index(location):
        return fix
    # Counted from `location` (the line calling a save() override, when
    # that is where the write is shown), not from the statement's own line.
    start = chain.index(location)
    loop = Loop(loop.line, loop.depth - start, loop.through[: len(loop.through) - start])
    where = described(loop, location)
    if fix.method == "save":
        name = short(model._meta.label).lower() if model is not None else "the object"
        return Fix(
            fix.method,
            fix.lookup,
            f"change {name} in {where}, and save it once after that loop "
            "(save(update_fields=[...]) names what changed)",
        )
    if fix.method == "reuse":
        return Fix(fix.method, fix.lookup, f"{fix.text}: {where}")
    if verb == "get_or_create" and _uses_what_it_gets(location):
        # The code uses each row it gets right away (a product's partner):
        # a dictionary the loop keeps asks once per value, with no pass
        # over the data before it.
        name = short(model._meta.label) if model is not None else "row"
        return Fix(
            fix.method,
            fix.lookup,
            f"no code for this line: {where} repeats the get_or_create() calls, one per pass, "
            f"and the code uses each {name} right away. Keep a dictionary {holder(loop)} "
            f"from the values looked up to the {name}, filled on first "
            "use and handed down, so each value is looked up (and created) once per run; to "
            f"fetch them all at once instead, gather the values in a pass before that loop: "
            f"{fix.text.partition('  # ')[0]}",
            model=fix.model,
            omits=fix.omits,
        )
    # (The code, and what its bulk form would skip; not the comment written
    # for a loop around this line.)
    code, _, comment = fix.text.partition("  # ")
    bulk = code.split(" would skip ", 1)
    losses = f"; it would skip {bulk[1]}" if len(bulk) == 2 else ""
    # What the code does next with each new row moves after the bulk write
    # (which sets their keys), and the receivers connected for every model
    # stay named.
    after = used_after(location) if fix.method == "bulk_create" else None
    if after is not None:
        losses += (
            f"; after it (it sets their keys on PostgreSQL, MariaDB and SQLite) do what "
            f"{location.function}() did with each one: {after}"
        )
    losses += "".join(f"; {part}" for part in comment.split("; ") if part.startswith("skips "))
    name = short(model._meta.label) if model is not None else "the"
    calls = f"have {location.function}()" if loop.depth == 1 else "have the calls between"
    hop = write_hop(chain[start:], loop.depth, sent_at(statements[0], start))
    if hop is not None:
        # A signal receiver (or a save() override) writes these: it runs
        # once per save the loop makes, and hands nothing back.
        inside = chain[start:]
        text = (
            f"no code for this line: {inside[hop].function}() runs inside each write or signal "
            f"at {inside[hop + 1]} (a signal receiver, or a save() override), and {where} "
            f"repeats those writes. The {name} rows meet only in that loop: the per-save "
            f"write must stop, and the loop collect the {name} rows of its saves and, after "
            f"it, write them at once: {bulk[0]}{losses}"
        )
    else:
        # Another caller of the function may rely on it writing: it keeps it.
        others = (
            f" (where other code calls {location.function}() to write one, keep it for them "
            f"and make the objects in the loop as it does)"
            if loop.depth == 1
            else " (where other code calls them to write, keep a way that writes for it)"
        )
        handed = (
            f"the keys and the amounts to add for the {name} rows"
            if atomic
            else f"the unsaved {name} objects (or their keys and values)"
        )
        text = (
            f"no code for this line: {where} repeats these writes, one call per pass. The "
            f"rows of every pass meet only in that loop: {calls} hand back {handed} instead "
            f"of writing them{others}; after the loop, write them at once: {bulk[0]}{losses}"
        )
        if atomic:
            text += (
                f"  # {comment.split('; ')[0]}; amounts for the same row add up, and what the "
                "calls did with each row after its write moves after this one"
            )
    return Fix(fix.method, fix.lookup, text, model=fix.model, omits=fix.omits)


def _uses_what_it_gets(location: Location) -> bool:
    """Whether the line keeps what a get_or_create() returned (``partner, _ =
    Partner.objects.get_or_create(...)``): a dictionary of those rows serves
    the loop. Not an update_or_create() (it writes each time), nor a call
    whose result is dropped."""
    text = source_line(location)
    return "get_or_create(" in text and not re.match(r"\s*[\w.()]+\.get_or_create\(", text)


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


def _fix(
    verb: str, model: Any, statement: Query, relation: bool, location: Location | None = None
) -> Fix:
    fix = _bulk_fix(verb, model, statement, location)
    skipped = _pre_save_skipped(model, fix.lookup.split(",") if fix.lookup else None)
    if fix.method == "bulk_update" and skipped:
        # What each save() did in its fields' pre_save(), which bulk_update
        # does not run.
        joined = "; " if "  # " in fix.text else "  # "
        fix = Fix(fix.method, fix.lookup, fix.text + joined + skipped.removeprefix("; "))
    unique = _unique_values(model) if fix.method == "bulk_create" and verb == "insert" else ""
    if unique:
        joined = "; " if "  # " in fix.text else "  # "
        fix = Fix(
            fix.method,
            fix.lookup,
            f"{fix.text}{joined}rows of the batch that repeat a unique value ({unique}) fail "
            "the whole bulk_create, where each save() failed alone: make them differ (or merge "
            "them) before it",
        )
    return _with_losses(fix, verb, model)


# A model formset's save() called at the line: `formset.save()`,
# `self.image_formset.save()`, `formsets["images"].save()`.
_FORMSET_SAVE = re.compile(r"([\w.]*formset\w*(?:\[[^\]]*\])?)\.save\(\s*\)", re.I)


def _formset_saved(location: Location | None) -> str | None:
    """The formset whose save() the line calls, when it calls one: the loop
    over its forms is Django's, so the bulk form is not code for this line."""
    if location is None or not location.path.endswith(".py"):
        return None
    found = _FORMSET_SAVE.search(source_line(location))
    return found.group(1) if found else None


def _formset_fix(formset: str, verb: str, model: Any) -> Fix:
    """No code: what it takes to write a model formset's objects together,
    which its save() writes one per changed form in a loop of Django's."""
    name = short(model._meta.label) if model is not None else "Model"
    skipped, everywhere = skipped_by_bulk(verb, model)
    losses = ""
    if skipped:
        losses += (
            f"; the bulk forms would skip {', '.join(skipped)}: do what they do for all the "
            "objects at once, or keep the formset's save()"
        )
    if everywhere:
        losses += f"; they skip {for_every_model(everywhere, model)}"
    losses += _pre_save_skipped(model, None)
    # (Its own method: no code to apply, and no loop of the project's to move it to.)
    return Fix(
        "formset_save",
        None,
        f"no code for this line: {formset}.save() saves the {name} of each changed form in "
        "a loop of Django's (BaseModelFormSet.save()), one write per form. To write them "
        f"together: objs = {formset}.save(commit=False) (which writes nothing), then "
        f"{name}.objects.bulk_update([obj for obj, fields in {formset}.changed_objects], "
        f"[<the fields those forms change>]), {name}.objects.bulk_create("
        f"{formset}.new_objects), delete each of {formset}.deleted_objects (commit=False "
        f"leaves them), and {formset}.save_m2m(); where the view saves several formsets, "
        f"only this one changes{losses}",
        model=model._meta.label if model is not None else None,
    )


def _unique_values(model: Any) -> str:
    """The model's unique fields and field sets besides its primary key, as
    the fixes list them ("code; partner with sku")."""
    if model is None:
        return ""
    found = [f.name for f in model._meta.concrete_fields if f.unique and not f.primary_key]
    found += [" with ".join(group) for group in _unique_sets(model)]
    return "; ".join(found)


def _bulk_fix(verb: str, model: Any, statement: Query, location: Location | None) -> Fix:
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
        text = f"{name}.objects.bulk_create(objs)"
        after = used_after(location) if location is not None else None
        if after is not None:
            # The loop goes on using each new row: that work moves after the
            # one bulk write, which gives the rows their keys.
            text += (
                f"  # build each {name}(...) unsaved and collect them across the loop; "
                f"after the bulk_create (it sets their keys on PostgreSQL, MariaDB and "
                f"SQLite) do what the loop did with each one: {after}"
            )
        return Fix("bulk_create", None, text)
    if verb == "update":
        fields = _updated_fields(model, statement.fingerprint)
        listed = ", ".join(repr(f) for f in fields) if fields else "'field', ..."
        relative = _computed_from_stored(model, statement.fingerprint)
        if relative and _keyed_by_pk(model, statement.fingerprint):
            # ``update(stock=F("stock") + n)``: the database computes each new
            # value from the one it holds. bulk_update would write values
            # computed in Python from rows read earlier, losing what another
            # transaction changed between: the atomic form is one UPDATE.
            pk = model._meta.pk.attname if model is not None else "pk"
            cases = ", ".join(
                f"{field}=Case(When({pk}=..., then=<that row's expression of F({field!r})>), "
                f"..., default=F({field!r}))"
                for field in relative
            )
            return Fix(
                "update",
                ",".join(relative),
                f"{name}.objects.filter({pk}__in=ids).update({cases})  # each UPDATE computes "
                "the new value from the stored one: one UPDATE keeps that (bulk_update would "
                "write values computed in Python and lose changes made between)",
            )
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


def _upsert(location: Location | None, statements: list[Query]) -> Fix | None:
    """A counter bumped by hand, one row per call: ``update(n=F('n') + k)``,
    and ``create()`` when it changed no row. A bulk form of either alone
    loses the other half, and rows of one key must add up."""
    lines = counter_upsert(location) if location is not None else None
    if lines is None or location is None:
        return None
    update, create = (Location(location.path, line, location.function) for line in lines)
    loop = repeating_loop(statements)
    where = f" ({described(loop, location)})" if loop is not None else ""
    return Fix(
        "upsert",
        None,
        f"no code for this line: the update() at {update} and the create() at {create}, run "
        "when it changed no row, make or bump one row per call, the database adding each "
        f"increment. One write for all the calls{where} must do both: add up the "
        "increments of the same key, find in one query which keys have a row, update those "
        "in one statement (<field>=Case(When(<key>=..., then=F('<field>') + <its sum>), "
        "...)) and bulk_create the rest (or, on PostgreSQL, one INSERT ... ON CONFLICT DO "
        "UPDATE adding the increment, in SQL); rows made in between still need the retry "
        "an IntegrityError gets now",
    )


def _found_or_new(fix: Fix, model: Any, location: Location | None) -> Fix:
    """The bulk form, split, when the saved object is either looked up or
    made new (an importer's row updating what it finds): bulk_create takes
    only the new ones, the found ones are looked up at once by the same
    fields the code's lookup uses (a field unique alone: in_bulk; unique
    only with others: a dictionary by all of them), and a value repeated in
    the rows is one object, not two."""
    lookup = found_or_new(location) if location is not None else None
    if lookup is None:
        return fix
    name = short(model._meta.label) if model is not None else "the"
    split = (
        f"the code finds some {name} objects ({lookup}: an update when saved) and makes "
        "the others new: bulk_create takes only the new ones; write the found ones with "
        f"{name}.objects.bulk_update(found, [<the fields set>]), after looking them up at "
        f"once ({_looked_up_at_once(model, lookup)}); a value repeated in the rows is one "
        "object: the later row changes the one the earlier made or found"
        + _pre_save_skipped(model, None)
    )
    joined = "; " if "  # " in fix.text or fix.text.startswith("no code") else "  # "
    return Fix(fix.method, fix.lookup, f"{fix.text}{joined}{split}", fix.model, fix.omits)


def _rows_pointing_at_them(
    fix: Fix, model: Any, statements: list[Query], writes: Sequence[tuple[str, Query]]
) -> Fix:
    """`fix` with the writes of other tables, made in the same passes, whose
    rows point to the new ones (an importer's stock record per product
    created): they need the keys the bulk_create sets, so they move after
    it. Those the fix names already (what the function did next) are left."""
    if model is None or len(statements) < 2:
        return fix
    first, last = statements[0].started, statements[-1].started
    seen: dict[str, Location] = {}
    for table, write in writes:
        other = model_for_table(table)
        if (
            other is None
            or other is model
            or write.location is None
            or not first < write.started < last
            or not any(
                field.is_relation
                and (field.many_to_one or field.one_to_one)
                and field.related_model is not None
                and field.related_model._meta.concrete_model is model._meta.concrete_model
                for field in other._meta.concrete_fields
            )
        ):
            continue
        name = _describe(other, table)
        where = _user_line(write) or write.location
        # (What the code did next with each row is named already when a
        # line on the way to the write is; a test's own writes are not the
        # pass's.)
        named = any(
            (text := source_line(line).strip()) and text in fix.text for line in lines_of(write)
        )
        if name not in seen and not named and not in_test_code(where):
            seen[name] = where
    if not seen:
        return fix
    listed = ", ".join(
        f"the {name.removesuffix(' rows')} rows written at {where}" for name, where in seen.items()
    )
    name = short(model._meta.label)
    note = (
        f"each pass also writes rows that point to its {name} ({listed}): they need the "
        "keys the bulk_create sets, so they wait for it and are written after it, together"
    )
    joined = "; " if "  # " in fix.text or fix.text.startswith("no code") else "  # "
    return Fix(fix.method, fix.lookup, fix.text + joined + note, model=fix.model, omits=fix.omits)


def _looked_up_at_once(model: Any, lookup: str) -> str:
    """The one query that finds every row the per-row ``get()`` found, by
    the same fields: ``in_bulk(<the values>, field_name='upc')`` for a field
    unique on its own; for one unique only with others (oscar's partner_sku,
    unique with partner), a dictionary by that field still, as the code
    looks up: keying it by all of them would find nothing where the code
    finds another partner's row, and a value with rows of several raises
    MultipleObjectsReturned in the get() now, which the dictionary must keep."""
    name = short(model._meta.label) if model is not None else "Model"
    keywords = _lookup_keywords(lookup)
    if model is None or keywords is None or len(keywords) != 1:
        return f"{name}.objects.in_bulk(<the values>, field_name='<that unique field>')"
    (keyword,) = keywords
    field = next((f for f in model._meta.concrete_fields if keyword in (f.name, f.attname)), None)
    if field is None:
        return f"{name}.objects.in_bulk(<the values>, field_name='<that unique field>')"
    if field.unique:
        return f"{name}.objects.in_bulk(<the values>, field_name={field.name!r})"
    together = [group for group in _unique_sets(model) if field.name in group and len(group) > 1]
    if together:
        others = [f for f in together[0] if f != field.name]
        return (
            f"{name}.objects.filter({field.name}__in=<the values>) into a dictionary by "
            f"{field.name}, as the get() looks up: {field.name} is unique only with "
            f"{', '.join(others)}, so a value can have rows of several, on which the get() "
            "raises MultipleObjectsReturned now: keep a list per value and do that where a "
            f"list holds more than one (keying by {', '.join(others)} too would miss the rows "
            "the code finds now)"
        )
    return (
        f"{name}.objects.filter({field.name}__in=<the values>) into a dictionary by "
        f"{field.name}: {field.name} is not unique, so a value can have several rows (the "
        "get() fails on those now): decide which one the dictionary keeps"
    )


def _lookup_keywords(lookup: str) -> list[str] | None:
    """The field names a ``Model.objects.get(a=..., b=...)`` looks up by."""
    try:
        call = ast.parse(lookup.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call) or not call.keywords or call.args:
        return None
    names = [k.arg for k in call.keywords]
    if any(n is None for n in names):
        return None
    return [str(n).removesuffix("__exact") for n in names]


def _unique_sets(model: Any) -> list[tuple[str, ...]]:
    """The field sets unique together: unique_together and UniqueConstraints
    on fields, with no condition."""
    found = [tuple(group) for group in model._meta.unique_together]
    found.extend(
        tuple(constraint.fields)
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint)
        and constraint.fields
        and getattr(constraint, "condition", None) is None
    )
    return found


def _pre_save_skipped(model: Any, fields: list[str] | None) -> str:
    """What bulk_update leaves undone that save() does in the fields'
    pre_save(): an auto_now date it does not set, a FileField's new file it
    does not store. `fields`: those written, or None for any."""
    if model is None:
        return ""
    # (An auto_now field is set by every save(), whatever the fields.)
    auto_now = [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
    files = [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, models.FileField) and (fields is None or f.name in fields)
    ]
    notes = []
    if auto_now:
        listed = ", ".join(auto_now)
        notes.append(
            f"bulk_update does not set auto_now fields: set {listed} to timezone.now() on "
            "each object and name it in the fields"
        )
    if files:
        notes.append(
            f"bulk_update does not store a new file of {', '.join(files)} (a FileField "
            "stores it in save()): keep save() for the rows with a new file"
        )
    return "; " + "; ".join(notes) if notes else ""


def _recursion(statement: Query, location: Location | None) -> Location | None:
    """The line where the write's function calls itself, when that call (and
    the write) is in no loop: a recursion makes one write per level (oscar's
    create_from_sequence() adding each category of a breadcrumb under the
    one the call before made). From `location`, the line the finding shows
    (the call of a save() override, when the write is in one)."""
    lines = lines_of(statement)
    start = lines.index(location) if location in lines else 0
    if len(lines) < start + 2:
        return None
    here, caller = lines[start], lines[start + 1]
    if (here.path, here.function) != (caller.path, caller.function):
        return None
    if in_a_loop(here) is not False or in_a_loop(caller) is not False:
        return None
    return caller


def _one_per_level(verb: str, model: Any, recursive: Location) -> Fix:
    """No bulk form for the writes of a recursion: each level's row is made
    from the one above it."""
    name = short(model._meta.label) if model is not None else "the"
    return Fix(
        "keep",
        None,
        f"no code for this line: the {verb}s come one per call of "
        f"{recursive.function}(), which "
        f"calls itself at {recursive} (a recursion, one level per call), and each level's "
        f"{name} row is made under the one the level above wrote (a child needs its "
        "parent's key, and a tree's node its parent's path). Keep one write per level; "
        "where many chains are made (an import), make the levels of all of them first and "
        "write each level at once with the model's own bulk method",
    )


def _run_per_save(statement: Query, statements: list[Query]) -> tuple[Location, Location] | None:
    """The function that ran inside a save or signal on the way to the
    statement, and the line whose write ran it (see Query.sent), when the
    statements repeat across those runs: a loop inside the receiver (an
    order_placed receiver updating a counter per line) is no repeat of runs."""
    hop = runs_per_write(statements, repeating_loop(statements))
    if hop is None:
        return None
    lines = lines_of(statement)
    return lines[hop], lines[hop + 1]


def _writes_by_save(statement: Query) -> bool:
    """Whether the statement's own line saves or deletes an instance (a
    receiver saving another object): then the statement is that save's."""
    location = statement.location
    if location is None:
        return False
    text = source_line(location)
    return any(call in text for call in (".save(", ".create(", ".delete(", "save_base("))


def _in_each_save(
    receiver: tuple[Location, Location], verb: str, model: Any, statements: list[Query]
) -> Fix:
    """A queryset update() or delete() that a receiver (or a save() override)
    runs once per save: its statements are the receiver's, made once per
    saved object; one for all of them fits only where the saves repeat."""
    function, write = receiver
    name = short(model._meta.label) if model is not None else "the"
    loop = repeating_loop(statements)
    location = statements[0].location
    where = (
        f" ({described(loop, location)})"
        if loop is not None and location is not None and loop.depth
        else ""
    )
    return Fix(
        verb,
        None,
        f"no code for this line: {function.function}() runs inside each write or signal at "
        f"{write} (a signal receiver, or a save() override), once per write, and sends this "
        f"{verb} of {name} rows each time. One {verb} for the rows of every save fits only "
        f"where the saves repeat{where}, after them: that code would stop the per-save "
        f"{verb} while it runs and make one {verb}() for all the objects it saved",
    )


def _one_update_for_all_calls(model: Any, statement: Query, statements: list[Query]) -> Fix:
    """A queryset ``update()`` run once per row: each is one statement
    already, so the fix is about the loop around it, one update() for the
    rows of all of them. (No save() and no signal ran for them: one update
    for all loses nothing they did.)"""
    name = short(model._meta.label) if model is not None else "Model"
    location, caller = statement.location, statement.caller
    in_save = _in_a_save_override(statement, statements)
    if in_save is not None:
        # A save() override's own update (oscar's User.save() moving alerts):
        # one update after the loop must stop the one each save runs.
        return _in_each_save(in_save, "update", model, statements)
    through = ""
    if location is not None and caller is not None:
        if caller.function in _WRITING_METHODS:
            through = f" (run by the {caller.function}() at {caller}, once per object saved)"
        elif (caller.path, caller.function) != (location.path, location.function):
            through = f" (in {location.function}(), called at {caller})"
    loop = repeating_loop(statements) if location is not None else None
    where = (
        described(loop, location)
        if loop is not None and location is not None and loop.depth
        else f"the loop that runs the update() at {location}{through}"
    )
    return Fix(
        "update",
        None,
        f"collect the keys of the rows in {where}, then one "
        f"{name}.objects.filter(<key>__in=keys).update(...) after it "
        "(values that differ per row: Case(When(<key>=..., then=...)))",
    )


def _in_a_save_override(
    statement: Query, statements: list[Query]
) -> tuple[Location, Location] | None:
    """The save() (or delete()) of the project's on the way from the
    statement to the loop that repeats it, and the line that called it:
    the statement runs once per save. (A receiver Django runs inside a save
    is Query.sent's, found by `_run_per_save`.)"""
    lines = lines_of(statement)
    loop = repeating_loop(statements)
    if loop is not None and lines:
        # (The way the loop found, which this statement's own lines may cut
        # short: the first of them can come from elsewhere.)
        lines = (lines[0], *reversed(loop.through), loop.line)
    for index in range(len(lines) - 1):
        if lines[index].function in _WRITING_METHODS and lines[index].path.endswith(".py"):
            return lines[index], lines[index + 1]
    return None


def _same_lookup(operations: list[Operation]) -> bool:
    """Whether every get_or_create looked up the same row (the same values
    in its SELECT): an importer asking for its one partner on every line."""
    keys = set()
    for _, statements in operations:
        select = next((q for q in statements if q.fingerprint.startswith("SELECT")), None)
        if select is None or select.params_key is None:
            return False
        keys.add((select.fingerprint, select.params_key))
    return len(keys) == 1


_COMPARED = re.compile(r"(?:\w+\.)?(\w+) = #")


def _lookup_then_create(model: Any, operations: list[Operation]) -> Fix:
    """get_or_create per row with other values each time: one read of the
    rows that exist, keyed the way the loop looks them up, then one
    bulk_create of the missing ones. in_bulk() only for a unique column:
    it keeps one row per value."""
    name = short(model._meta.label) if model is not None else "Model"
    select = next((q for q in operations[0][1] if q.fingerprint.startswith("SELECT")), None)
    where = select.fingerprint.split(" WHERE ", 1)[-1] if select is not None else ""
    by_column = {f.column: f for f in model._meta.concrete_fields} if model is not None else {}
    fields = [by_column[c] for c in dict.fromkeys(_COMPARED.findall(where)) if c in by_column]
    if len(fields) == 1 and (fields[0].unique or fields[0].primary_key):
        found = f"found = {name}.objects.in_bulk(keys, field_name={fields[0].name!r})"
    elif len(fields) == 1:
        key = fields[0].attname
        found = f"found = {{obj.{key}: obj for obj in {name}.objects.filter({key}__in=keys)}}"
    elif fields:
        keys = ", ".join(f"obj.{f.attname}" for f in fields)
        filters = ", ".join(f"{f.attname}__in=..." for f in fields)
        found = f"found = {{({keys}): obj for obj in {name}.objects.filter({filters})}}"
    else:
        found = f"found = {{<key>: obj for obj in {name}.objects.filter(<key>__in=keys)}}"
    return Fix(
        "bulk_create",
        None,
        f"{found}, then {name}.objects.bulk_create(<the missing ones>) (update_or_create: "
        "bulk_create(objs, update_conflicts=True, unique_fields=[...], update_fields=[...]))",
    )


def _written_constants(location: Location | None) -> bool:
    """Whether the get_or_create at `location` is written with constants
    only (``get_or_create(name="Books")``): the same row on every pass by
    the code, not only by the data this run had (an importer reading the
    partner's name from each line of a file that names one partner)."""
    if location is None:
        return False
    written = constant_call_arguments(location)
    return written is True


def _once_before_the_loop(model: Any, verb: str) -> Fix:
    name = short(model._meta.label) if model is not None else "the model"
    return Fix(
        "reuse",
        None,
        f"every {verb}() of {name} looks up the same row: run it once before the loop "
        "and reuse the object",
    )


def _a_packages_save(statement: Query) -> bool:
    """Whether the write came from the save() of the class saved, defined by
    the package it went through (a project's ``Tag`` built on taggit's
    ``TagBase``, whose ``save()`` makes the slug): the user line called the
    ORM, not the package, and the bulk form, naming the save() it skips, is
    the fix."""
    saved = model_for_label(statement.saved_model)
    if saved is None or statement.via is None:
        return False
    return any(
        klass.__module__.partition(".")[0] == statement.via
        and ("save" in vars(klass) or "save_base" in vars(klass))
        for klass in saved.__mro__
    )


def _each_its_own(statements: list[Query]) -> bool:
    """Whether no two of the writes were of the same row or values (a
    thumbnail cache filled once per image, each image's thumbnails deleted
    once): nothing one call wrote is written again."""
    keys = [q.where_key if q.where_key is not None else q.params_key for q in statements]
    return None not in keys and len(set(keys)) == len(keys)


def _call_once(
    library: str,
    verb: str,
    location: Location | None,
    model: Any = None,
    each_its_own: bool = False,
) -> Fix:
    """Writes a third-party library makes, one per call: no ORM bulk form
    reaches inside it. A library's related manager writing one object's
    rows per call (django-taggit's ``instance.tags.add(...)``) cannot take
    all the objects at once: the rows go through its table together."""
    written = manager_write(location) if location is not None else None
    if written is not None and model is not None:
        manager, method = written
        name = model_name(model)
        bulk = (
            f"{name}.objects.filter(...).delete()"
            if method in ("remove", "clear")
            else f"{name}.objects.bulk_create([{name}(...), ...])"
        )
        fix = Fix(
            "bulk_create" if method in ("add", "set") else "delete",
            None,
            f"{bulk}  # {library}'s {manager}.{method}() at {location} writes one object's "
            "rows per call: write those of all the objects together",
        )
        return _with_losses(fix, "delete" if method in ("remove", "clear") else "insert", model)
    if each_its_own:
        # (A cache filled once per image, an image's thumbnails deleted once:
        # no call repeats another's work.)
        return Fix(
            "call_once",
            None,
            f"the {verb}s are {library}'s, one per call at {location}: call it once for all "
            f"the items if {library} has a call that takes many; each call here wrote rows no "
            "other call wrote, so there is nothing to keep and reuse, and without such a call "
            f"these writes are what {library} costs per item (fewer items, or the call moved "
            "off the request, are the only levers)",
        )
    return Fix(
        "call_once",
        None,
        f"the {verb}s are {library}'s, one per call at {location}: call it once for all "
        "the items, or keep and reuse what it returns",
    )


def _save_once(model: Any) -> Fix:
    """The same row updated again and again from one line: no bulk form, one save."""
    name = short(model._meta.label).lower() if model is not None else "the object"
    return Fix(
        "save",
        None,
        f"change {name} in the loop and save it once after it "
        "(save(update_fields=[...]) names what changed)",
    )


def _with_losses(fix: Fix, verb: str, model: Any) -> Fix:
    """`fix` as code when its bulk form skips nothing the per-row writes run;
    otherwise what it would lose, and no code to paste."""
    skipped, everywhere = skipped_by_bulk(verb, model)
    # The code, and the comment that goes with it (how to move the loop's work).
    code, _, comment = fix.text.partition("  # ")
    if not skipped and everywhere:
        note = f"skips {for_every_model(everywhere, model)}"
        return Fix(fix.method, fix.lookup, f"{code}  # {f'{comment}; ' if comment else ''}{note}")
    if not skipped:
        return fix
    # (What the loop does next with each new row still moves after the bulk
    # call: it stays, after the losses. A package's receiver connected for
    # every model stays named: a search index updated on each save is one.)
    if everywhere:
        general = f"skips {for_every_model(everywhere, model)}"
        comment = f"{comment}; {general}" if comment else general
    return Fix(
        fix.method,
        fix.lookup,
        f"{code} would skip {', '.join(skipped)}: do what they do for all the rows at "
        "once (what they compute on each row before the bulk call, what needs its key "
        "after it), or keep one write per row" + (f"  # {comment}" if comment else ""),
    )


def _updated_fields(model: Any, fingerprint: str) -> list[str]:
    match = _SET_COLUMNS.match(fingerprint)
    if match is None:
        return []
    columns = _ASSIGNED.findall(match.group(1))
    if model is None:
        return columns
    by_column = {f.column: f.name for f in model._meta.concrete_fields}
    return [by_column.get(column, column) for column in columns if column != model._meta.pk.column]


def _computed_from_stored(model: Any, fingerprint: str) -> list[str]:
    """The fields an UPDATE sets from their own stored value
    (``SET stock = (stock + #)``, an F() expression), by name."""
    match = _SET_COLUMNS.match(fingerprint)
    if match is None:
        return []
    by_column = {f.column: f.name for f in model._meta.concrete_fields} if model else {}
    found = []
    for assignment in re.split(r",\s*(?=(?:\w+\.)?\w+\s*=)", match.group(1)):
        column, _, value = assignment.partition("=")
        column = column.strip().rsplit(".", 1)[-1]
        if column and re.search(rf"(?<![\w]){re.escape(column)}(?![\w])", value):
            found.append(by_column.get(column, column))
    return found


def _keyed_by_pk(model: Any, fingerprint: str) -> bool:
    if model is None:
        return True
    where = fingerprint.split(" WHERE ", 1)[1]
    # The column itself, not one ending with it ("id" is not "author_id").
    column = re.escape(model._meta.pk.column)
    return re.search(rf"(?<![\w]){column}\s*(?:= #|IN \()", where) is not None
