"""prefetch-bypassed: a prefetched relation queried again (.filter() or .order_by() on it)."""

from __future__ import annotations

from collections.abc import Iterable

from djperf._format import duration as shown
from djperf.detect._loads import built_at, most_common, queries_of, relation_groups, root_of
from djperf.detect._models import short
from djperf.detect._work import severity
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix
from djperf.record.scope import Recording

rule = Rule(__name__, reads=("lazy_loads",), count=1, warn_from=2)


@rule.detects
def prefetch_bypassed(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """A prefetched relation queried again: .filter() or .order_by() on a prefetched manager."""
    loads = [load for load in recording.lazy_loads if load.bypassed_prefetch]
    for group in relation_groups(loads).values():
        if len(group) < thresholds["count"]:
            continue
        first = group[0]
        root = root_of(first)
        related = short(first.related_model)
        name = first.lookup.rsplit("__", 1)[-1]
        text = (
            f".prefetch_related(Prefetch({first.lookup!r}, "
            f"queryset={related}.objects.filter(...), to_attr='{name}_filtered'))"
        )
        duration = sum(load.duration for load in group)
        yield rule.finding(
            message=(
                f"{short(first.model)}.{first.field} was prefetched, then queried again on "
                f"{len(group)} instances ({queries_of(group)} queries, {shown(duration)}): "
                f"a filtered or reordered related manager does not use the prefetch. "
                f"Prefetch the filtered rows instead: {text}"
            ),
            # A Prefetch of the refined rows runs one query for all instances.
            severity=severity(queries_of(group) - 1, thresholds["warn_from"]),
            model=first.model,
            field=first.field,
            count=len(group),
            location=most_common(load.location for load in group),
            origin=root.location if root is not None else None,
            fix=Fix("prefetch_related", first.lookup, text),
            duration=duration,
            built=built_at(root),
        )
