"""n-plus-one: a relation loaded one instance at a time across many instances of one queryset."""

from __future__ import annotations

from collections.abc import Iterable

import django

from djperf._format import duration as shown
from djperf.detect._loads import (
    built_at,
    distinct_instances,
    fresh_queryset,
    most_common,
    queries_of,
    relation_groups,
    root_of,
    verbose,
)
from djperf.detect._loops import (
    Loop,
    described,
    lines_of,
    repeating_loop,
    runs_per_write,
    write_hop,
)
from djperf.detect._models import (
    bare_select_related_paths,
    covers,
    model_for_label,
    own_prefetch,
    resolve,
    select_related_lookup,
    short,
    using_own_prefetch,
)
from djperf.detect._source import (
    closing_parenthesis,
    in_a_loop,
    key_only_rewrite,
    narrowing_calls,
)
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
from djperf.record.events import Evaluation, LazyLoad, Query
from djperf.record.scope import Recording
from djperf.record.work import Drive

rule = Rule(__name__, reads=("lazy_loads",), count=2, warn_from=2)

# Relations Django 6.1's fetch modes cover (reverse FK and M2M are not).
_FETCH_MODE_KINDS = frozenset(
    {"foreign_key", "one_to_one", "reverse_one_to_one", "generic_foreign_key", "deferred_field"}
)


@rule.detects
def n_plus_one(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """A relation loaded one instance at a time across many instances of one
    queryset, in one request (or one call from test code)."""
    loads = [
        load
        for load in recording.lazy_loads
        if load.kind != "deferred_field"
        and not load.bypassed_prefetch
        and not _internal(root_of(load))
    ]
    for unit in by_request(loads, lambda load: load.request):
        for group in relation_groups(unit).values():
            if group[0].fetch_mode == "FETCH_PEERS":
                yield from _batched_by_peers(group, root_of(group[0]))
                continue
            repetition = judge(group, thresholds["count"], _drive, distinct_instances)
            if repetition is not None:
                yield _loaded_one_at_a_time(repetition, thresholds["warn_from"])


def _drive(load: LazyLoad) -> Drive | None:
    return load.drive


def _loaded_one_at_a_time(repetition: Repetition[LazyLoad], warn_from: int) -> Finding:
    group = repetition.events
    first = group[0]
    root = root_of(first)
    queries = queries_of(group)
    duration = sum(load.duration for load in group)
    location = most_common(load.location for load in group)
    keyed = _key_only_fix(first, location)
    # The objects read again later (an importer's diff reading feeding.child
    # after clean() loaded it): reading the key here would move the loads.
    again = next((load for load in group if load.read_again), None) if keyed else None
    if again is not None:
        keyed = None
    fix = keyed or _library_fix(root, first, location) or _eager_fix(root, first)
    if keyed is None and fix.method != "call_once" and location is not None:
        fix = _for_the_loop(fix, group, location, root)
    # (Objects with a provenance came from rows a queryset returned or
    # joined, one per row it read: its select_related or prefetch serves
    # copies of one row as it serves any rows.)
    copies = keyed is None and root is None and _copies_of_one_row(group)
    if copies:
        fix = Fix(
            "reuse",
            first.field,
            f"no code: the {distinct_instances(group)} {verbose(first.model)} objects it was "
            f"loaded for are copies of one row (a copy or proxy the code made, or the row "
            f"loaded again), and each copy loads {first.field} again. No prefetch on a list "
            f"helps: share one object, or carry the loaded {first.field} over to the copies "
            "where they are made (djperf cannot see where that is)",
        )
    if keyed is not None:
        how = f"Only its key was used: read the key, no query: {fix.text}"
    elif fix.method == "call_once" or copies or fix.text.startswith("no code"):
        how = fix.text
    elif fix.method == "prefetch_related_objects":
        how = f"Load it for all of them at once: {fix.text}"
    else:
        how = f"Load it with the queryset: {fix.text}"
    message = (
        f"{short(first.model)}.{first.field} was loaded one {verbose(first.model)} at a time: "
        f"{queries} queries, {shown(duration)}. {how}"
    )
    if again is not None:
        message += _read_again(first, location, again)
    tests = repetition.driven_by_tests
    if tests:
        message += test_driven(repetition, "load")
        location = repetition.test_line or location
    # A queryset the test built and handed to the application (a basket's
    # lines replaced by a plain .all()) is the test's to fix, not the code's.
    built_by_test = _queryset_site(root, first)
    if keyed is None and in_test_code(built_by_test) and not in_test_code(location):
        message += (
            f" The queryset was built by test code at {built_by_test}: the application "
            "code did not choose it."
        )
        tests = True
    return rule.finding(
        message=message,
        # One query remains with a prefetch (none with a join): the rest are saved.
        severity=severity(queries - 1, warn_from, driven_by_tests=tests),
        model=first.model,
        field=first.field,
        count=distinct_instances(group),
        location=location,
        origin=root.location if root is not None else None,
        fix=fix,
        duration=duration,
        built=built_at(root),
        alternatives=_fetch_peers_alternative(group, root),
        in_tests=tests or in_test_code(location),
    )


def _copies_of_one_row(group: list[LazyLoad]) -> bool:
    """Whether the instances, distinct objects, all hold the same row."""
    keys = {load.row_key for load in group}
    return (
        len(keys) == 1
        and None not in keys
        and all(load.source is None for load in group)
        and distinct_instances(group) >= 2
    )


def _for_the_loop(
    fix: Fix, group: list[LazyLoad], location: Location, root: Evaluation | None
) -> Fix:
    """A list of instances no queryset loaded (objects the code made or
    saved) gets its prefetch before the loop that repeats the loads, named
    however many calls out it is. When the loads run inside each save or
    signal (a post_save receiver re-reading the saved object's relation),
    no prefetch fits: one before the writes would be read before the
    writes that the receiver must see (or, for objects no queryset loaded,
    never be read at all)."""
    queries = [load.queries[0] for load in group if load.queries]
    if len(queries) != len(group) or not queries:
        return fix
    loop = repeating_loop(queries)
    lines = lines_of(queries[0])
    hop = _per_write(queries, lines, loop)
    if hop is not None and (root is None or _reads_what_was_written(group[0], queries[0])):
        if loop is not None:
            after = (
                f"; {described(loop, location)} repeats the writes. A prefetch before the loop "
                "would be read before the writes it must see: loading it for all the objects "
                "fits only after the loop's writes"
            )
        else:
            after = (
                ". A prefetch made before the writes would be read before them: loading it "
                "for all the objects fits only after the writes"
            )
        return Fix(
            fix.method,
            fix.lookup,
            f"no code: {lines[hop].function}() runs inside each write or signal at "
            f"{lines[hop + 1]} (a signal receiver, or a save() override) and reads "
            f"the relation after that write{after}, with the per-write read stopped and its "
            "work done once there",
        )
    if (
        fix.method == "prefetch_related_objects"
        and loop is None
        and group[0].kind in ("foreign_key", "one_to_one")
        and in_a_loop(location) is False
    ):
        return _no_list(fix, group[0])
    if fix.method != "prefetch_related_objects" or loop is None or loop.depth == 0:
        return fix
    where = described(loop, location)
    return Fix(fix.method, fix.lookup, fix.text.replace("before the loop", f"before {where}"))


def _no_list(fix: Fix, load: LazyLoad) -> Fix:
    """Objects from no queryset, loading a foreign key one at a time with no
    loop of the project's on the way (an import library making one object
    per row and calling its ``clean()``): no list of them exists to
    prefetch on. A dictionary of the related rows, loaded once, can set
    each object's relation as it comes."""
    model = model_for_label(load.model)
    field = model._meta.get_field(load.field) if model is not None else None
    related = getattr(field, "related_model", None)
    if field is None or related is None:
        return fix
    name = short(load.model).lower()
    other = short(related._meta.label)
    return Fix(
        "reuse",
        load.field,
        f"no code: the {short(load.model)} objects come from no queryset and no loop of "
        f"yours (made one at a time, as an import library makes one per row and cleans "
        f"it), so there is no list of them to prefetch on. Load the {other} rows once "
        f"before the work starts, into a dictionary by key (found = "
        f"{other}.objects.in_bulk(<the keys>)), and set each object's {load.field} from it "
        "after its fields are set and before its first read, in a hook the code that makes "
        "them calls for each one (django-import-export: an override of the resource's "
        "import_instance(instance, row), after super().import_instance(instance, row); not "
        "after_init_instance(), which runs before the fields are set): key = "
        f"{other}._meta.pk.to_python({name}.{field.attname}) (a key read from a file is still "
        f"text until the object is cleaned), then if key in found: {name}.{load.field} = "
        "found[key] (a key with no row keeps the lookup as now, and its error); later reads "
        "use it too",
    )


def _per_write(queries: list[Query], lines: tuple[Location, ...], loop: Loop | None) -> int | None:
    """Where on `lines` a function ran once per write or signal (see
    `write_hop`), when the loads repeat across writes: the loop that
    repeats them (if djperf saw one) is outside that function."""
    seen = runs_per_write(queries, loop)
    if seen is not None:
        return seen
    if loop is None:
        return None
    return write_hop(lines, loop.depth)


def _reads_what_was_written(load: LazyLoad, query: Query) -> bool:
    """Whether the relation's rows are of the model being saved (a product's
    stockrecords read in the receiver of a stockrecord's save): a prefetch
    made before the save holds the rows as they were."""
    return query.saved_model is not None and load.related_model == query.saved_model


def _key_only_fix(load: LazyLoad, location: Location | None) -> Fix | None:
    """``Feeding.objects.filter(child=self.child)`` loads the Child only to
    compare its key: ``self.child_id`` holds it already. Read from the line's
    source, for a foreign key to its model's primary key."""
    if location is None or load.kind not in ("foreign_key", "one_to_one"):
        return None
    model = model_for_label(load.model)
    try:
        field = model._meta.get_field(load.field) if model is not None else None
    except Exception:  # FieldDoesNotExist: a name djperf did not resolve
        return None
    related = getattr(field, "related_model", None)
    if field is None or related is None or field.target_field is not related._meta.pk:
        return None
    rewritten = key_only_rewrite(location, field.name, field.attname, related._meta.pk.name)
    if rewritten is None:
        return None
    return Fix("use_key", field.attname, rewritten)


def _read_again(first: LazyLoad, location: Location | None, again: LazyLoad) -> str:
    """Why the key-only rewrite of the line was not offered."""
    model = model_for_label(first.model)
    field = model._meta.get_field(first.field) if model is not None else None
    attname = getattr(field, "attname", f"{first.field}_id")
    where = f" at {again.read_again_at}" if again.read_again_at is not None else ""
    return (
        f" ({location} uses only its key, but the code reads "
        f"{verbose(first.model)}.{first.field} of the same objects again{where}: "
        f"reading {attname} at {location} would move each load there, not save it.)"
    )


def _internal(root: Evaluation | None) -> bool:
    """Rows Django read for a write of its own (a deletion collecting cascades)."""
    return root is not None and root.internal


def _batched_by_peers(group: list[LazyLoad], root: Evaluation | None) -> Iterable[Finding]:
    """FETCH_PEERS already batches the peers into one query per relation: an
    extra query that a JOIN in the main one would avoid, where it can."""
    first = group[0]
    peers = sum(load.peers for load in group)
    if peers < 2:
        return
    fix = _eager_fix(root, first)
    if fix.method != "select_related":
        return
    duration = sum(load.duration for load in group)
    yield rule.finding(
        message=(
            f"{short(first.model)}.{first.field} was fetched for {peers} peers by FETCH_PEERS in "
            f"{queries_of(group)} extra queries ({shown(duration)}); a JOIN in the main "
            f"query avoids them: {fix.text}"
        ),
        severity="info",
        model=first.model,
        field=first.field,
        count=peers,
        location=most_common(load.location for load in group),
        origin=root.location if root is not None else None,
        fix=fix,
        duration=duration,
        built=built_at(root),
    )


def _eager_fix(root: Evaluation | None, load: LazyLoad) -> Fix:
    """select_related when every hop of the lookup can be joined, else
    prefetch_related; a Prefetch object for a refined related manager."""
    lookup = load.lookup
    if load.refined:
        return _prefetch_object_fix(load)
    if _through_a_refined_manager(load):
        # The code reads the manager again with its own refinement (oscar's
        # basket.all_lines(): self.lines.select_related(...).order_by(...)),
        # which never reads a prefetch from the root: the fix goes on it.
        manager = _on_the_related_manager(load)
        if manager is not None:
            return manager
    if root is None and load.kind != "deferred_field":
        manager = _on_the_related_manager(load)
        if manager is not None:
            return manager
        # The instances came from no queryset this capture saw (made by the
        # code, unpickled from a cache, loaded before the capture): there is
        # no queryset to name, but Django loads a relation for a list of
        # instances one has: the list of the first model of the lookup.
        return Fix(
            "prefetch_related_objects",
            lookup,
            f"prefetch_related_objects(<the {verbose(_list_model(load))} list>, {lookup!r}) "
            "before the loop (from django.db.models)",
        )
    hops = resolve(model_for_label(root.model) if root is not None else None, lookup)
    if root is None:
        hops = resolve(model_for_label(load.model), load.field)
    joined = select_related_lookup(hops) if load.kind != "generic_foreign_key" else None
    if root is not None and root.admin is not None:
        return _admin_fix(root, root.admin.function, lookup, joined)
    if joined is not None:
        text = f".select_related({joined!r})"
        if root is not None and root.select_related_all:
            # Naming a relation replaces a bare select_related(): keep its joins.
            kept = bare_select_related_paths(model_for_label(root.model))
            listed = [path for path in kept if not joined.startswith(path + "__")]
            text = f".select_related({', '.join(repr(p) for p in (*listed, joined))})"
        return Fix("select_related", joined, _loading_the_join(root, joined, text))
    return Fix("prefetch_related", lookup, f".prefetch_related({lookup!r})")


# Relations read through a related manager: a queryset the code evaluates.
_MANAGERS = frozenset({"reverse_foreign_key", "many_to_many", "generic_relation"})


def _library_fix(root: Evaluation | None, load: LazyLoad, location: Location | None) -> Fix | None:
    """The objects and their loads are a third-party package's, made inside
    each call of the user's line into it (easy-thumbnails finding a source,
    then its thumbnails): no queryset of the user's to prefetch on."""
    if load.via is None or root is None or location is None:
        return None
    if (root.built or root.location) != location:
        return None
    return Fix(
        "call_once",
        None,
        f"the objects and their loads are {load.via}'s, made inside each call at "
        f"{location}: no queryset of yours to prefetch on; call it once for all "
        "the items if it can, or look for an option of the package's that loads "
        "them together",
    )


def _queryset_site(root: Evaluation | None, load: LazyLoad) -> Location | None:
    """Where the queryset the fix goes on was built (else evaluated)."""
    evaluation = root
    if evaluation is None and load.source is not None and load.source.how == "lazy_load":
        evaluation = load.source.evaluation
    if evaluation is None:
        return None
    return evaluation.built or evaluation.location


def _list_model(load: LazyLoad) -> str:
    """The model whose instances `load.lookup` starts from: the first load
    of the chain that reached this instance."""
    first = load
    while first.source is not None and first.source.via is not None:
        first = first.source.via
    return first.model


def _through_a_refined_manager(load: LazyLoad) -> bool:
    """Whether the instance came, at some step, from a related manager read
    with a refinement of the caller's (``.select_related()``, ``.order_by()``,
    ``.filter()``): a prefetch from the root would not be read."""
    return _fresh_queryset(load) is not None


def _fresh_queryset(load: LazyLoad) -> tuple[Evaluation, str] | None:
    """The nearest queryset the code refined on the way to the instance
    (detect._loads.fresh_queryset), and the lookup of this load from its rows."""
    fresh = fresh_queryset(load.source)
    if fresh is None:
        return None
    evaluation, path = fresh
    return evaluation, f"{path}__{load.field}" if path else load.field


def _on_the_related_manager(load: LazyLoad) -> Fix | None:
    """The instances were read through a related manager whose queryset the
    code builds at a line djperf knows: of an object from no queryset the
    capture saw (``events = order.shipping_events.order_by(...)``), or one
    the code refined (see `_fresh_queryset`): the relation goes on it
    (``.select_related('event_type')``)."""
    fresh = _fresh_queryset(load)
    if fresh is None:
        source = load.source
        if (
            source is None
            or source.how not in ("lazy_load", "select_related")
            or source.via is None
            or source.via.kind not in _MANAGERS
            or source.evaluation is None
            or not load.lookup.startswith(source.via.lookup + "__")
        ):
            return None
        # The lookup from the manager's rows: the relation itself, or behind
        # a join the manager's queryset made ('stockrecord__partner').
        fresh = source.evaluation, load.lookup[len(source.via.lookup) + 2 :]
    evaluation, lookup = fresh
    where = evaluation.built or evaluation.location
    if where is None:
        return None
    hops = resolve(model_for_label(evaluation.model), lookup)
    joined = select_related_lookup(hops) if load.kind != "generic_foreign_key" else None
    if joined is not None:
        return Fix(
            "select_related", joined, f".select_related({joined!r}) on the queryset at {where}"
        )
    return Fix(
        "prefetch_related",
        lookup,
        f".prefetch_related({lookup!r}) on the queryset at {where}",
    )


def _admin_fix(root: Evaluation, admin: str, lookup: str, joined: str | None) -> Fix:
    """An admin changelist's page: the fix goes on its ModelAdmin."""
    if joined is not None:
        # list_select_related replaces the joins Django made: keep them.
        current = (
            bare_select_related_paths(model_for_label(root.model))
            if root.select_related_all
            else list(root.select_related)
        )
        listed = [path for path in current if not joined.startswith(path + "__")]
        paths = ", ".join(repr(path) for path in (*listed, joined))
        return Fix("select_related", joined, f"list_select_related = [{paths}] on {admin}")
    return Fix(
        "prefetch_related",
        lookup,
        f"on {admin}: def get_queryset(self, request): "
        f"return super().get_queryset(request).prefetch_related({lookup!r})",
    )


def _loading_the_join(root: Evaluation | None, joined: str, text: str) -> str:
    """Django refuses to join a field only()/defer() leaves out: the fix
    loads it too (.only('title', 'author').select_related('author'))."""
    deferral = root.deferral if root is not None else None
    if deferral is None:
        return text
    first = joined.split("__", 1)[0]
    how, names = deferral
    if how == "only" and not covers(names, first):
        return f".only({', '.join(repr(name) for name in (*names, first))}){text}"
    if how == "defer" and first in names:
        remaining = [name for name in names if name != first]
        if remaining:
            return f".defer({', '.join(repr(name) for name in remaining)}){text}"
        return f"drop {first!r} from defer(), then {text}"
    return text


def _prefetch_object_fix(load: LazyLoad) -> Fix:
    """A manager refined with .filter(), .order_by(), a slice, .get() or
    .first() queries again whatever was prefetched: prefetch the refined rows
    into an attribute, and read that attribute instead."""
    related = short(load.related_model) if load.related_model else "Related"
    attribute = f"selected_{load.field}"
    refined = load.refined or ""
    if refined.startswith(".filter(") and load.location is not None:
        # The values are not kept: the user's own filter calls, when they
        # mean the same where the queryset is built.
        written = narrowing_calls(load.location, load.field)
        if written is not None:
            refined = written + refined[closing_parenthesis(refined, len(".filter")) + 1 :]
    lookup, on = load.lookup, ""
    fresh = _refined_manager_site(load)
    manager = fresh[0] if fresh is not None else None
    if fresh is not None:
        # The objects come from a related manager the code refines itself:
        # the Prefetch goes on that queryset, from its rows.
        lookup, on = fresh[1], f" on the queryset at {fresh[0]}"
    owner = verbose(load.model).lower().replace(" ", "_")
    text = (
        f".prefetch_related(Prefetch({lookup!r}, "
        f"queryset={related}.objects{refined}, to_attr={attribute!r})){on}, then read "
        f"{owner}.{attribute} instead of refining .{load.field} at {load.location or 'the access'}"
    )
    site = manager or _queryset_site(root_of(load), load)
    if load.location is not None and site is not None and _elsewhere(load.location, site):
        # The reading line is in a function of its own (a model method),
        # which other code may call on objects that queryset did not load.
        text += (
            f"; objects from anywhere else have no {attribute}: where {load.location.function}() "
            f"also serves them, read getattr({owner}, {attribute!r}, None) and keep the "
            "refined query for when it is None"
        )
    own = own_prefetch(load.model, load.field)
    if own is not None:
        # The project prefetches this relation its own way, into an
        # attribute its readers look for (oscar's get_attribute_values()
        # merging a child's values with its parent's): its method first.
        where = (
            f"on the queryset at {site}"
            if site is not None and lookup == load.field
            else f"on the queryset that loads the {owner}s"
        )
        # (Where the rows were iterated: the refined manager's evaluation
        # when they came from one, else the root's.)
        fresh_rows = _fresh_queryset(load)
        evaluated = fresh_rows[0] if fresh_rows is not None else root_of(load)
        looped = evaluated.location if evaluated is not None else None
        if site is not None and looped is not None and _elsewhere(looped, site):
            # The queryset comes from a function of its own (oscar's
            # get_public_children()): its other callers would run the
            # prefetch's queries too, where the loop here need not share them.
            where += (
                f" (or where the loop at {looped} takes it: other callers of "
                f"{site.function}() would run its queries too)"
            )
        text = f"{using_own_prefetch(own, load.field, where)}; else {text}"
    return Fix("Prefetch", lookup, text)


def _elsewhere(line: Location, site: Location) -> bool:
    """Whether `line` is in another function than the queryset built at `site`."""
    return (line.path, line.function) != (site.path, site.function)


def _refined_manager_site(load: LazyLoad) -> tuple[Location, str] | None:
    """Where the queryset of a refined related manager that gave the load's
    instance was built, and the lookup from its rows (see `_fresh_queryset`)."""
    fresh = _fresh_queryset(load)
    if fresh is None:
        return None
    evaluation, lookup = fresh
    where = evaluation.built or evaluation.location
    return None if where is None else (where, lookup)


def _fetch_peers_alternative(loads: list[LazyLoad], root: Evaluation | None) -> tuple[Fix, ...]:
    """On Django 6.1, FETCH_PEERS on the root queryset batches the whole chain."""
    if django.VERSION < (6, 1) or root is None:
        return ()
    chain: list[LazyLoad] = []
    load: LazyLoad | None = loads[0]
    while load is not None:
        chain.append(load)
        via = load.source.via if load.source is not None else None
        load = via
    if all(item.kind in _FETCH_MODE_KINDS for item in chain) and all(
        item.source is None or item.source.how in ("row", "lazy_load") for item in chain
    ):
        return (Fix("fetch_mode", None, ".fetch_mode(models.FETCH_PEERS)"),)
    return ()
