"""The daily impression roll-up with tags (seed 004)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType

from catalogue.models import Product
from stats.models import DailyImpressionStats, Impression, Tag
from stats.rollup import (
    POPULAR_FROM,
    roll_up_impressions,
    roll_up_impressions_slow,
    tags_for_content,
)
from stats.seed import ROLLUP_DATE


def test_tags_name_the_kind_and_the_traffic(seeded: dict[str, int]) -> None:
    tags = Tag.objects.in_bulk(field_name="name")
    product_type = ContentType.objects.get_for_model(Product)
    assert [tag.name for tag in tags_for_content(product_type.pk, POPULAR_FROM, tags)] == [
        "product",
        "popular",
    ]
    assert [tag.name for tag in tags_for_content(product_type.pk, 1, tags)] == [
        "product",
        "long-tail",
    ]


@pytest.mark.parametrize("roll_up", [roll_up_impressions, roll_up_impressions_slow])
def test_roll_up_counts_its_day_only(seeded: dict[str, int], roll_up: object) -> None:
    start = datetime.datetime.combine(ROLLUP_DATE, datetime.time.min, tzinfo=datetime.UTC)
    that_day = Impression.objects.filter(
        created__gte=start, created__lt=start + datetime.timedelta(days=1)
    )
    assert 0 < that_day.count() < Impression.objects.count()
    rows = roll_up(ROLLUP_DATE)  # type: ignore[operator]
    stats = DailyImpressionStats.objects.all()
    assert rows == stats.count()
    assert sum(stats.values_list("total_impressions", flat=True)) == that_day.count()
    through = DailyImpressionStats.tags.through.objects
    assert through.count() == 2 * rows
    assert {row.tags.count() for row in stats.prefetch_related("tags")} == {2}


def test_products_reach_their_impressions(seeded: dict[str, int]) -> None:
    product = Product.objects.filter(impressions__isnull=False).first()
    assert product is not None
    assert (
        product.impressions.count()
        == Impression.objects.filter(
            content_type=ContentType.objects.get_for_model(Product), object_id=product.pk
        ).count()
    )
    assert all(impression.content_object == product for impression in product.impressions.all())
