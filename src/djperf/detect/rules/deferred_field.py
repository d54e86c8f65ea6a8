"""deferred-field: a field left out by only() or defer(), then loaded one instance at a time."""

from __future__ import annotations

import re
from collections.abc import Iterable

from djperf._format import duration as shown
from djperf.detect._loads import built_at, most_common, queries_of, relation_groups, root_of
from djperf.detect._models import model_for_label, short
from djperf.detect._source import source_line
from djperf.detect._work import severity
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix, Location
from djperf.record.events import Evaluation, LazyLoad
from djperf.record.scope import Recording

rule = Rule(__name__, reads=("lazy_loads",), count=2, warn_from=2)


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
        location = most_common(load.location for load in group)
        fix = _one_key(fix, first, location) or _few_of_many(fix, first, root, count)
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
            location=location,
            origin=root.location if root is not None else None,
            fix=fix,
            duration=duration,
            built=built_at(root),
        )


# Columns whose values can be large: loading one for every row may cost more
# than the few queries that load it for the rows that read it.
_WIDE = frozenset({"TextField", "JSONField", "BinaryField"})


def _few_of_many(fix: Fix, load: LazyLoad, root: Evaluation | None, count: int) -> Fix:
    """The fix, saying what it costs when only a few of the queryset's rows
    read a wide column (a search view's every match, two of them shown): it
    would load the column for all of them."""
    if root is None or root.rows <= 2 * count or fix.method not in ("only", "defer"):
        return fix
    if _internal_type(load) not in _WIDE:
        return fix
    return Fix(
        fix.method,
        fix.lookup,
        f"{fix.text}  # only {count} of the {root.rows} rows read {load.field}: this loads the "
        f"column for all {root.rows}. If its values are large and only the rows shown read "
        f"it, keep it deferred and load it for those rows at once "
        f"({short(load.model)}.objects.filter(pk__in=<their keys>).values_list('pk', "
        f"{load.field!r})), or annotate only the part they read",
    )


def _one_key(fix: Fix, load: LazyLoad, location: Location | None) -> Fix | None:
    """The fix, with the lighter way when the line reads one key of a JSON
    column (``doc.metadata.get("parents")``): that key alone, annotated,
    instead of the whole document."""
    if location is None or fix.method not in ("only", "defer"):
        return None
    if _internal_type(load) != "JSONField":
        return None
    field = re.escape(load.field)
    keys = re.findall(
        rf"(\w+)\.{field}(?:\.get\(\s*(['\"])(\w+)\2|\[\s*(['\"])(\w+)\4\s*\])",
        source_line(location),
    )
    read = {(name, get or item) for name, _, get, _, item in keys}
    if len(read) != 1:
        return None
    ((name, key),) = read
    alias = f"{load.field}_{key}"
    return Fix(
        fix.method,
        fix.lookup,
        f"{fix.text}  # {location} reads only {load.field}[{key!r}]: to load that key "
        f"alone, not the whole JSON, .annotate({alias}=KeyTransform({key!r}, "
        f"{load.field!r})) (from django.db.models.fields.json import KeyTransform) on that "
        f"queryset instead, and read {name}.{alias} there (with the {load.field} read "
        "as now for objects from elsewhere, which lack it)",
    )


def _internal_type(load: LazyLoad) -> str | None:
    model = model_for_label(load.model)
    try:
        field = model._meta.get_field(load.field) if model is not None else None
    except Exception:  # FieldDoesNotExist: a name djperf did not resolve
        return None
    return field.get_internal_type() if field is not None else None


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
