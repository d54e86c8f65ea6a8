"""unused-eager-load: an eager load that brought rows, none of which was read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from djperf.detect._loads import built_at, verbose_plural
from djperf.detect._models import attribute_path, model_for_label, resolve, short
from djperf.detect._work import in_test_code
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import EagerLoad, EagerMethod, Finding, Fix, Location
from djperf.record.events import Evaluation
from djperf.record.scope import Recording

rule = Rule(__name__, reads=("evaluations",), count=1)


@dataclass(frozen=True)
class _Site:
    """An eager-load lookup at one line, with the evaluations that asked for it."""

    load: EagerLoad
    evaluations: list[Evaluation]
    # For a join: the shorter path that was read, when only part of it was.
    kept: str | None = None


@rule.detects
def unused_eager_load(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """A select_related or prefetch_related lookup that brought related rows,
    none of which any instance read.

    Uses are noted on the root evaluation by full path, so a lookup of a
    prefetch's own queryset (Prefetch("books", queryset=...select_related(
    "publisher"))) is judged by "books__publisher". Evaluations at one line are
    one queryset (a helper called in a loop), and so are the evaluations of
    querysets built at one line (a method building it for several callers):
    a lookup is unused only if none of them used it. A lookup that brought no rows (every
    join NULL, every prefetch empty) proves nothing: on another path, with
    other data, it may be what saves an N+1, so it is never reported.
    """
    for site in _sites(recording):
        load = site.load
        if load.used or not load.rows or len(site.evaluations) < thresholds["count"]:
            continue
        yield _unused(site)


def eager_loads(recording: Recording) -> list[EagerLoad]:
    """Every eager-load site of `recording`, used or not (Recording.eager_loads)."""
    return [site.load for site in _sites(recording)]


def _sites(recording: Recording) -> Iterable[_Site]:
    # By the line that asked for the eager load (where the queryset was
    # built), not where it was evaluated: a queryset a method builds for
    # several callers (a basket's all_lines()) is used if any caller used it,
    # and its fix goes where the select_related() is written.
    by_line: dict[tuple[Location, str], list[Evaluation]] = defaultdict(list)
    for evaluation in recording.evaluations:
        if (
            evaluation.rows
            and evaluation.location is not None
            and (evaluation.select_related or evaluation.prefetch_related)
        ):
            asked = evaluation.built or evaluation.location
            by_line[(asked, evaluation.model)].append(evaluation)
    prefetched = _prefetched_rows(recording)
    for (location, label), evaluations in by_line.items():
        # Instances pickled away (a cache, a session) are read where djperf
        # cannot see: every lookup of the line counts as used.
        unknown = any((e.root or e).escaped for e in evaluations)
        first = evaluations[0]
        model = model_for_label(label)
        if not first.select_related_all:
            for path in first.select_related:
                yield _join_site(location, label, model, path, evaluations, unknown)
        for lookup in first.prefetch_related:
            rows = sum(
                prefetched.get((id(e.root or e), _full_path(e, lookup)), 0) for e in evaluations
            )
            used = (
                unknown
                or lookup in first.prefetch_to_attr
                or _used(evaluations, lookup)
                or _through_generic_key(model, lookup)
            )
            load = EagerLoad(
                _asked_at(first, lookup, location), label, lookup, "prefetch_related", rows, used
            )
            yield _Site(load, evaluations)


def _join_site(
    location: Location,
    label: str,
    model: Any,
    path: str,
    evaluations: list[Evaluation],
    unknown: bool,
) -> _Site:
    attribute = attribute_path(model, path)
    rows = sum((e.joined or {}).get(_full_path(e, attribute), 0) for e in evaluations)
    used = unknown or _used(evaluations, attribute)
    kept = None
    if not used:
        parts = path.split("__")
        prefixes = ("__".join(parts[:n]) for n in range(len(parts) - 1, 0, -1))
        kept = next(
            (prefix for prefix in prefixes if _used(evaluations, attribute_path(model, prefix))),
            None,
        )
    where = _asked_at(evaluations[0], path, location)
    return _Site(EagerLoad(where, label, path, "select_related", rows, used), evaluations, kept)


def _asked_at(evaluation: Evaluation, lookup: str, built: Location) -> Location:
    """The line that asked for `lookup` (the select_related() a caller added
    to a manager method's queryset), else the line that built the queryset:
    where the fix goes."""
    return (evaluation.eager_at or {}).get(lookup) or built


def _prefetched_rows(recording: Recording) -> dict[tuple[int, str], int]:
    """(root evaluation, full path) -> rows the prefetches along it built."""
    rows: dict[tuple[int, str], int] = defaultdict(int)
    for evaluation in recording.evaluations:
        if evaluation.root is not None and evaluation.path:
            rows[(id(evaluation.root), evaluation.path)] += evaluation.rows
    return rows


def _used(evaluations: list[Evaluation], lookup: str) -> bool:
    return any(_full_path(e, lookup) in (e.root or e).used for e in evaluations)


def _full_path(evaluation: Evaluation, lookup: str) -> str:
    return f"{evaluation.path}__{lookup}" if evaluation.path else lookup


def _through_generic_key(model: Any, lookup: str) -> bool:
    """A prefetched generic foreign key is read through GenericForeignKey,
    whose use djperf does not watch: never call it unused."""
    return any(
        not hop.many and hop.select_name is None and hop.model is None
        for hop in resolve(model, lookup)
    )


def _unused(site: _Site) -> Finding:
    load, evaluations, first = site.load, site.evaluations, site.evaluations[0]
    method: EagerMethod = load.method
    asked = first.select_related if method == "select_related" else first.prefetch_related
    others = [lookup for lookup in asked if lookup != load.lookup]
    if site.kept and site.kept not in others:
        others.append(site.kept)
    text = (
        f".{method}({', '.join(repr(lookup) for lookup in others)})"
        if others
        else f"remove the {method}() call"
    )
    parents = sum(e.rows for e in evaluations)
    related = _related_label(first, load.lookup)
    brought = "joined" if method == "select_related" else "prefetched"
    what = f"{load.lookup!r} (only {site.kept!r} was read)" if site.kept else repr(load.lookup)
    return rule.finding(
        message=(
            f"{short(first.model)} queryset asked for {method} {what}: it {brought} "
            f"{load.rows} {related} rows for {parents} {verbose_plural(first.model, parents)}, "
            f"and none was read: the extra join or query is wasted. Fix: {text}"
        ),
        severity="warning",
        model=first.model,
        field=load.lookup.rsplit("__", 1)[-1],
        count=len(evaluations),
        location=load.location,
        origin=first.location,
        # Evaluated only by test code: the application never ran this query.
        in_tests=all(in_test_code(e.location) for e in evaluations),
        fix=Fix(f"remove_{method}", load.lookup, text, model=first.model),
        built=built_at(first),
    )


def _related_label(evaluation: Evaluation, lookup: str) -> str:
    hops = resolve(model_for_label(evaluation.model), lookup)
    related = hops[-1].model if hops else None
    return short(related._meta.label) if related is not None else lookup.rsplit("__", 1)[-1]
