"""unused-column: a wide column loaded for many rows and never read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from djperf._format import size
from djperf.detect._models import short
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix, Location
from djperf.record.events import Evaluation
from djperf.record.scope import Recording

rule = Rule(__name__, reads=("evaluations",), count=10, bytes=32_000)


@rule.detects
def unused_column(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
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
            for name, length in (evaluation.wide_columns or {}).items():
                sizes[name] += length * evaluation.rows
        for name, total in sizes.items():
            if name in read or total < thresholds["bytes"]:
                continue
            fix = _defer_fix(evaluations[0], name)
            yield rule.finding(
                message=(
                    f"{short(model)}.{name} was loaded for {rows} rows (about {size(total)}) "
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
    """Leave the column out of the query: a Fix that omits it, on querysets of the model."""
    deferral = evaluation.deferral
    if deferral is not None and deferral[0] == "only":
        # An empty only() loads every column: keep the primary key at least.
        kept = [field for field in deferral[1] if field != name] or ["pk"]
        text = f".only({', '.join(repr(f) for f in kept)})"
    else:
        deferred = [*(deferral[1] if deferral is not None else ()), name]
        text = f".defer({', '.join(repr(f) for f in deferred)})"
    return Fix("defer", name, text, model=evaluation.model, omits=True)
