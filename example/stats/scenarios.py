"""Slow and optimized scenarios of the stats app (seed 004, bulk_create with M2M rows)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from shopsite.scenarios import Scenario, register
from stats.models import DailyImpressionStats
from stats.rollup import roll_up_impressions, roll_up_impressions_slow
from stats.seed import ROLLUP_DATE

StatsRow = tuple[str, int, str, int, tuple[str, ...]]


def rollup_slow() -> int:
    return roll_up_impressions_slow(ROLLUP_DATE)


def rollup_optimized() -> int:
    return roll_up_impressions(ROLLUP_DATE)


def rollup_outcome() -> list[StatsRow]:
    stats = DailyImpressionStats.objects.prefetch_related("tags")
    return sorted(
        (
            ContentType.objects.get_for_id(row.content_type_id).model,
            row.object_id,
            row.date.isoformat(),
            row.total_impressions,
            tuple(sorted(tag.name for tag in row.tags.all())),
        )
        for row in stats
    )


register(
    Scenario(
        name="stats.daily_impressions",
        title="Daily impression stats with tags: create() and tags.set() per row vs bulk",
        slow=rollup_slow,
        optimized=rollup_optimized,
        mutates=True,
        outcome=rollup_outcome,
        source="004 optimized Django blog: 'Optimizing creation of new many-to-many records' "
        "(bulk_create the stats, then DailyImpressionStats.tags.through rows)",
        tags=frozenset({"write-in-loop"}),
    )
)
