"""deferred-field: a field left out by only() or defer(), then loaded one instance at a time."""

from __future__ import annotations

from collections.abc import Iterable

from djperf._format import duration as shown
from djperf.detect._loads import built_at, most_common, queries_of, relation_groups, root_of
from djperf.detect._models import short
from djperf.detect._work import severity
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix
from djperf.record.events import Evaluation, LazyLoad
from djperf.record.scope import Recording

rule = Rule(__name__, count=2, warn_from=2)


@rule.detects
def deferred_field(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """A field left out by only() or defer(), then read on every instance."""
    loads = [load for load in recording.lazy_loads if load.kind == "deferred_field"]
    for group in relation_groups(loads).values():
        first = group[0]
        peers = first.fetch_mode == "FETCH_PEERS"
        count = sum(load.peers for load in group) if peers else len(group)
        if count < thresholds["count"] or (peers and count < 2):
            continue
        root = root_of(first)
        fix = _deferral_fix(root, first.lookup, first)
        duration = sum(load.duration for load in group)
        how = (
            f"fetched for {count} instances by FETCH_PEERS in {queries_of(group)} extra queries"
            if peers
            else f"loaded one instance at a time: {queries_of(group)} queries"
        )
        yield rule.finding(
            message=(
                f"{short(first.model)}.{first.field} was deferred, then {how} "
                f"({shown(duration)}). {fix.text}"
            ),
            # FETCH_PEERS already batches the loads: one query per relation.
            severity="info" if peers else severity(queries_of(group), thresholds["warn_from"]),
            model=first.model,
            field=first.field,
            count=count,
            location=most_common(load.location for load in group),
            origin=root.location if root is not None else None,
            fix=fix,
            duration=duration,
            built=built_at(root),
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
