"""unused-column: a wide column loaded for many rows and never read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from djperf.detect._models import short
from djperf.detect.findings import Finding, Fix
from djperf.detect.registry import register
from djperf.record.events import Evaluation, Location
from djperf.record.recorder import Recording


@register("unused-column", count=10, bytes=32_000)
def unused_column(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """A text, binary or JSON column loaded for `count` rows or more, about
    `bytes` in all, that none of the rows read.

    Evaluations at one line are one queryset (a helper called in a loop): a
    column is unused only if no evaluation from that line read it. The size
    is estimated from one sampled row of each evaluation (hooks/columns.py).
    """
    by_line: dict[tuple[Location, str], list[Evaluation]] = defaultdict(list)
    for evaluation in recording.evaluations:
        if evaluation.wide_columns and evaluation.location is not None and evaluation.root is None:
            by_line[(evaluation.location, evaluation.model)].append(evaluation)
    for (location, model), evaluations in by_line.items():
        rows = sum(e.rows for e in evaluations)
        if rows < thresholds["count"] or any(e.escaped or e.internal for e in evaluations):
            continue
        read = set().union(*(e.read_columns or () for e in evaluations))
        sizes: dict[str, int] = defaultdict(int)
        for evaluation in evaluations:
            for name, size in (evaluation.wide_columns or {}).items():
                sizes[name] += size * evaluation.rows
        for name, total in sizes.items():
            if name in read or total < thresholds["bytes"]:
                continue
            fix = _defer_fix(evaluations[0], name)
            yield Finding(
                rule="unused-column",
                message=(
                    f"{short(model)}.{name} was loaded for {rows} rows (about {_kb(total)}) "
                    f"and none of them read it: leave it in the database. {fix.text}"
                ),
                severity="warning",
                model=model,
                field=name,
                count=rows,
                location=location,
                origin=location,
                fix=fix,
                built=evaluations[0].built if evaluations[0].built != location else None,
            )


def _defer_fix(evaluation: Evaluation, name: str) -> Fix:
    deferral = evaluation.deferral
    if deferral is not None and deferral[0] == "only":
        # An empty only() loads every column: keep the primary key at least.
        kept = [field for field in deferral[1] if field != name] or ["pk"]
        return Fix("defer", name, f".only({', '.join(repr(f) for f in kept)})")
    deferred = [*(deferral[1] if deferral is not None else ()), name]
    return Fix("defer", name, f".defer({', '.join(repr(f) for f in deferred)})")


def _kb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"
