"""Rules about relations: n-plus-one, deferred-field, prefetch-bypassed, unused-eager-load.

All four read the lazy loads and evaluations of a recording. A lazy load
names its relation from the queryset a fix belongs to (its root evaluation),
so grouping by (root, lookup) gives one finding per problem, however many
instances it touched.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import django

from djperf.detect._models import (
    attribute_path,
    bare_select_related_paths,
    covers,
    model_for_label,
    resolve,
    select_related_lookup,
    short,
)
from djperf.detect.findings import Finding, Fix
from djperf.detect.registry import register
from djperf.record.events import Evaluation, LazyLoad, Location
from djperf.record.recorder import Recording

# Relations Django 6.1's fetch modes cover (reverse FK and M2M are not).
_FETCH_MODE_KINDS = frozenset(
    {"foreign_key", "one_to_one", "reverse_one_to_one", "generic_foreign_key", "deferred_field"}
)


def relation_groups(loads: Iterable[LazyLoad]) -> dict[tuple[Any, ...], list[LazyLoad]]:
    """Loads of one relation from one queryset: (root, lookup), or for
    instances built outside the capture (no root) the model, field and line."""
    groups: dict[tuple[Any, ...], list[LazyLoad]] = defaultdict(list)
    for load in loads:
        root = load.source.root if load.source is not None else None
        if root is not None:
            # A refined manager (.filter() ...) needs its own Prefetch per line.
            refined_at = load.location if load.refined else None
            # Single rows fetched at one line (a get() in a loop) are one
            # queryset run many times: their loads are one problem.
            scope: object = id(root)
            if root.rows == 1 and root.location is not None:
                scope = (root.location, root.model)
            key: tuple[Any, ...] = (scope, load.lookup, refined_at)
        else:
            key = (None, load.model, load.field, load.location)
        groups[key].append(load)
    return groups


def distinct_instances(loads: list[LazyLoad]) -> int:
    """How many distinct instances the loads were for: loading one
    instance's relation twice is not loading it one instance at a time."""
    # A weakref to an object without a callback is shared: one per instance.
    return len({id(load._instance) if load._instance is not None else id(load) for load in loads})


def _most_common(locations: Iterable[Location | None]) -> Location | None:
    counted = Counter(location for location in locations if location is not None)
    return counted.most_common(1)[0][0] if counted else None


def _root(load: LazyLoad) -> Evaluation | None:
    return load.source.root if load.source is not None else None


def _internal(root: Evaluation | None) -> bool:
    return root is not None and root.internal


def _built(root: Evaluation | None) -> Location | None:
    if root is not None and root.admin is not None:
        return root.admin  # a changelist's queryset: its ModelAdmin is where to fix it
    if root is None or root.built is None or root.built == root.location:
        return None
    return root.built


def _eager_fix(root: Evaluation | None, load: LazyLoad) -> Fix:
    """select_related when every hop of the lookup can be joined, else
    prefetch_related; a Prefetch object for a refined related manager."""
    lookup = load.lookup
    if load.refined:
        return _prefetch_object_fix(load)
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
    text = (
        f".prefetch_related(Prefetch({load.lookup!r}, "
        f"queryset={related}.objects{load.refined}, to_attr={attribute!r})), then read "
        f"{_verbose(load.model).replace(' ', '_')}.{attribute} instead of refining "
        f".{load.field} at {load.location or 'the access'}"
    )
    return Fix("Prefetch", load.lookup, text)


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


def _verbose(label: str) -> str:
    model = model_for_label(label)
    return str(model._meta.verbose_name) if model is not None else short(label).lower()


def _queries(loads: list[LazyLoad]) -> int:
    return sum(len(load.queries) for load in loads)


@register("n-plus-one", count=2)
def n_plus_one(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """A relation loaded one instance at a time across many instances of one queryset."""
    loads = [
        load
        for load in recording.lazy_loads
        if load.kind != "deferred_field"
        and not load.bypassed_prefetch
        and not _internal(_root(load))
    ]
    for group in relation_groups(loads).values():
        first = group[0]
        root = _root(first)
        if first.fetch_mode == "FETCH_PEERS":
            yield from _batched_by_peers(group, root)
            continue
        instances = distinct_instances(group)
        if instances < thresholds["count"]:
            continue
        fix = _eager_fix(root, first)
        queries = _queries(group)
        duration = sum(load.duration for load in group)
        owner = _verbose(first.model)
        yield Finding(
            rule="n-plus-one",
            message=(
                f"{short(first.model)}.{first.field} was loaded one {owner} at a time: "
                f"{queries} queries, {duration * 1000:.1f} ms. Load it with the queryset: "
                f"{fix.text}"
            ),
            severity="warning",
            model=first.model,
            field=first.field,
            count=instances,
            location=_most_common(load.location for load in group),
            origin=root.location if root is not None else None,
            fix=fix,
            duration=duration,
            built=_built(root),
            alternatives=_fetch_peers_alternative(group, root),
        )


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
    yield Finding(
        rule="n-plus-one",
        message=(
            f"{short(first.model)}.{first.field} was fetched for {peers} peers by FETCH_PEERS in "
            f"{_queries(group)} extra queries ({duration * 1000:.1f} ms); a JOIN in the main "
            f"query avoids them: {fix.text}"
        ),
        severity="info",
        model=first.model,
        field=first.field,
        count=peers,
        location=_most_common(load.location for load in group),
        origin=root.location if root is not None else None,
        fix=fix,
        duration=duration,
        built=_built(root),
    )


@register("deferred-field", count=2)
def deferred_field(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """A field left out by only() or defer(), then read on every instance."""
    loads = [load for load in recording.lazy_loads if load.kind == "deferred_field"]
    for group in relation_groups(loads).values():
        first = group[0]
        peers = first.fetch_mode == "FETCH_PEERS"
        count = sum(load.peers for load in group) if peers else len(group)
        if count < thresholds["count"] or (peers and count < 2):
            continue
        root = _root(first)
        fix = _deferral_fix(root, first.lookup, first)
        duration = sum(load.duration for load in group)
        how = (
            f"fetched for {count} instances by FETCH_PEERS in {_queries(group)} extra queries"
            if peers
            else f"loaded one instance at a time: {_queries(group)} queries"
        )
        yield Finding(
            rule="deferred-field",
            message=(
                f"{short(first.model)}.{first.field} was deferred, then {how} "
                f"({duration * 1000:.1f} ms). {fix.text}"
            ),
            severity="info" if peers else "warning",
            model=first.model,
            field=first.field,
            count=count,
            location=_most_common(load.location for load in group),
            origin=root.location if root is not None else None,
            fix=fix,
            duration=duration,
            built=_built(root),
        )


def _root_location(root: Evaluation | None) -> str:
    return str(root.location) if root is not None and root.location else "the origin"


def _deferral_fix(root: Evaluation | None, lookup: str, load: LazyLoad | None = None) -> Fix:
    source = load.source if load is not None else None
    if load is not None and source is not None and source.how in ("prefetch", "lazy_load"):
        # Deferred by the queryset that fetched the instance (a Prefetch
        # queryset, a related manager's): that is the one to change.
        built = source.evaluation
        if built is not None and built.deferral is not None:
            inner = _deferral_fix(built, load.field)
            if source.how == "prefetch":
                # Name the change, not a whole Prefetch: its lookup, to_attr
                # and other refinements are the user's and stay as they are.
                change = inner.text if inner.text.startswith(".") else "no defer()"
                text = (
                    f"{change} on the queryset of the {source.path!r} prefetch "
                    f"(the Prefetch(..., queryset=...) of the queryset at {_root_location(root)})"
                )
                return Fix("Prefetch", lookup, text)
            where = f" where {built.location} builds it" if built.location else ""
            return Fix(inner.method, load.field, f"{inner.text}{where}")
    deferral = root.deferral if root is not None else None
    if deferral is not None and deferral[0] == "only":
        fields = [*deferral[1], lookup]
        return Fix("only", lookup, f".only({', '.join(repr(f) for f in fields)})")
    if deferral is not None and deferral[0] == "defer":
        remaining = [f for f in deferral[1] if f != lookup]
        if remaining:
            return Fix("defer", lookup, f".defer({', '.join(repr(f) for f in remaining)})")
        return Fix("defer", lookup, f"remove .defer({lookup!r})")
    return Fix("only", lookup, f"add {lookup!r} to only(), or drop it from defer()")


@register("prefetch-bypassed", count=1)
def prefetch_bypassed(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """A prefetched relation queried again: .filter() or .order_by() on a prefetched manager."""
    loads = [load for load in recording.lazy_loads if load.bypassed_prefetch]
    for group in relation_groups(loads).values():
        if len(group) < thresholds["count"]:
            continue
        first = group[0]
        root = _root(first)
        related = short(first.related_model)
        name = first.lookup.rsplit("__", 1)[-1]
        text = (
            f".prefetch_related(Prefetch({first.lookup!r}, "
            f"queryset={related}.objects.filter(...), to_attr='{name}_filtered'))"
        )
        duration = sum(load.duration for load in group)
        yield Finding(
            rule="prefetch-bypassed",
            message=(
                f"{short(first.model)}.{first.field} was prefetched, then queried again on "
                f"{len(group)} instances ({_queries(group)} queries, {duration * 1000:.1f} ms): "
                f"a filtered or reordered related manager does not use the prefetch. "
                f"Prefetch the filtered rows instead: {text}"
            ),
            severity="warning",
            model=first.model,
            field=first.field,
            count=len(group),
            location=_most_common(load.location for load in group),
            origin=root.location if root is not None else None,
            fix=Fix("prefetch_related", first.lookup, text),
            duration=duration,
            built=_built(root),
        )


@register("unused-eager-load", count=1)
def unused_eager_load(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """A select_related or prefetch_related lookup whose objects no instance used.

    Uses are noted on the root evaluation by full path, so a lookup of a
    prefetch's own queryset (Prefetch("books", queryset=...select_related(
    "publisher"))) is judged by "books__publisher". Evaluations at one line are
    one queryset (a helper called in a loop): a lookup is unused only if no
    evaluation from that line used it. Evaluations that built no rows prove
    nothing and are skipped.
    """
    by_line: dict[tuple[Any, ...], list[Evaluation]] = defaultdict(list)
    for evaluation in recording.evaluations:
        if (
            evaluation.rows
            and evaluation.location is not None
            and (evaluation.select_related or evaluation.prefetch_related)
        ):
            by_line[(evaluation.location, evaluation.model)].append(evaluation)
    for evaluations in by_line.values():
        if len(evaluations) < thresholds["count"]:
            continue
        if any((e.root or e).escaped for e in evaluations):
            continue
        first = evaluations[0]

        used = functools.partial(_used, evaluations)
        yield from _unused_joins(first, evaluations, used)
        yield from _unused_prefetches(first, evaluations, used)


def _used(evaluations: list[Evaluation], lookup: str) -> bool:
    return any(_full_path(e, lookup) in (e.root or e).used for e in evaluations)


def _full_path(evaluation: Evaluation, lookup: str) -> str:
    return f"{evaluation.path}__{lookup}" if evaluation.path else lookup


def _unused_joins(first: Evaluation, evaluations: list[Evaluation], used: Any) -> Iterable[Finding]:
    if first.select_related_all:
        return
    model = model_for_label(first.model)

    def joined_and_used(path: str) -> bool:
        return bool(used(attribute_path(model, path)))

    for path in first.select_related:
        if joined_and_used(path):
            continue
        parts = path.split("__")
        prefixes = ("__".join(parts[:n]) for n in range(len(parts) - 1, 0, -1))
        kept = next((prefix for prefix in prefixes if joined_and_used(prefix)), None)
        others = [p for p in first.select_related if p != path]
        remaining = [*others, kept] if kept and kept not in others else others
        text = (
            f".select_related({', '.join(repr(p) for p in remaining)})"
            if remaining
            else "remove the select_related() call"
        )
        what = f"{path!r} (only {kept!r} was used)" if kept else repr(path)
        yield _unused(
            first, evaluations, "remove_select_related", path, text, f"select_related {what}"
        )


def _unused_prefetches(
    first: Evaluation, evaluations: list[Evaluation], used: Any
) -> Iterable[Finding]:
    model = model_for_label(first.model)
    for lookup in first.prefetch_related:
        if lookup in first.prefetch_to_attr or used(lookup) or _through_generic_key(model, lookup):
            continue
        remaining = [p for p in first.prefetch_related if p != lookup]
        text = (
            f".prefetch_related({', '.join(repr(p) for p in remaining)})"
            if remaining
            else "remove the prefetch_related() call"
        )
        yield _unused(
            first,
            evaluations,
            "remove_prefetch_related",
            lookup,
            text,
            f"prefetch_related {lookup!r}",
        )


def _through_generic_key(model: Any, lookup: str) -> bool:
    """A prefetched generic foreign key is read through GenericForeignKey,
    whose use djperf does not watch: never call it unused."""
    return any(
        not hop.many and hop.select_name is None and hop.model is None
        for hop in resolve(model, lookup)
    )


def _unused(
    first: Evaluation,
    evaluations: list[Evaluation],
    method: str,
    lookup: str,
    text: str,
    what: str,
) -> Finding:
    rows = sum(e.rows for e in evaluations)
    return Finding(
        rule="unused-eager-load",
        message=(
            f"{short(first.model)} queryset asked for {what}, but none of its {rows} rows "
            f"used it: the extra join or query is wasted. Fix: {text}"
        ),
        severity="warning",
        model=first.model,
        field=lookup.rsplit("__", 1)[-1],
        count=len(evaluations),
        location=first.location,
        origin=first.location,
        fix=Fix(method, lookup, text),
        built=_built(first),
    )
