"""Slow and optimized scenarios of the bigdata app (seed 000, big data iteration)."""

from __future__ import annotations

from bigdata.models import SomeModel
from bigdata.recompute import with_paginator_bulk, with_queryset
from shopsite.scenarios import Scenario, register


def recompute_slow() -> int:
    return with_queryset()


def recompute_optimized() -> int:
    return with_paginator_bulk()


def scores() -> list[tuple[int, int]]:
    return sorted(SomeModel.objects.values_list("id", "field"))


# djperf's batched version (keyset iteration + bulk writes) will be registered
# against method 5 when djperf's batch feature lands.
register(
    Scenario(
        name="bigdata.recompute_scores",
        title="Recompute a stored score: save() per row vs Paginator + bulk_update",
        slow=recompute_slow,
        optimized=recompute_optimized,
        mutates=True,
        outcome=scores,
        source="000 'Efficient Iteration of Big Data in Django': method 1 (plain loop, "
        "save(update_fields=...)) vs method 5 (Paginator + bulk_update)",
        tags=frozenset({"write-in-loop"}),
    )
)
