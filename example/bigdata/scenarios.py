"""Slow and optimized scenarios of the bigdata app (seed 000, big data iteration)."""

from __future__ import annotations

from bigdata.models import SomeModel
from bigdata.recompute import with_djperf, with_queryset
from shopsite.scenarios import Scenario, register


def recompute_slow() -> int:
    return with_queryset()


def recompute_optimized() -> int:
    return with_djperf()


def scores() -> list[tuple[int, int]]:
    return sorted(SomeModel.objects.values_list("id", "field"))


register(
    Scenario(
        name="bigdata.recompute_scores",
        title="Recompute a stored score: save() per row vs djperf.update_in_batches()",
        slow=recompute_slow,
        optimized=recompute_optimized,
        mutates=True,
        outcome=scores,
        source="000 'Efficient Iteration of Big Data in Django': method 1 (plain loop, "
        "save(update_fields=...)) vs keyset batches and one UPDATE per batch (the seed's "
        "method 5, Paginator + bulk_update, is in manage.py recompute_scores)",
        tags=frozenset({"write-in-loop"}),
    )
)
