"""Demo data of the stats app: a day of impressions on products and videos, and the tags.

Popularity has a long tail: a few products and videos get most impressions.
Impressions on the days around ROLLUP_DATE are there to prove the roll-up
counts only its own day.
"""

from __future__ import annotations

import datetime

from django.contrib.contenttypes.models import ContentType

from catalogue.models import Product
from media.models import Video
from shopsite.seed import BASE_TIME, rng_for, scaled
from stats.models import DailyImpressionStats, Impression, Tag

# The day the roll-up scenario aggregates (seed 004's example date).
ROLLUP_DATE = BASE_TIME.date()
# "product" and "video" name the content types; "featured" is a tag no rule gives.
TAGS = ("featured", "long-tail", "popular", "product", "video")


def clear() -> None:
    DailyImpressionStats.objects.all().delete()
    Impression.objects.all().delete()
    Tag.objects.all().delete()


def seed(scale: float) -> dict[str, int]:
    rng = rng_for("stats")
    tags = Tag.objects.bulk_create(Tag(name=name) for name in TAGS)
    content = [
        (ContentType.objects.get_for_model(model), pk)
        for model in (Product, Video)
        for pk in model.objects.order_by("pk").values_list("pk", flat=True)
    ]
    rng.shuffle(content)
    # Zipf-like weights: the first items of the shuffled list are the popular ones.
    weights = [1 / (rank + 1) for rank in range(len(content))]
    day_start = datetime.datetime.combine(ROLLUP_DATE, datetime.time.min, tzinfo=datetime.UTC)

    impressions = []
    for day_offset, count in ((0, 3000), (-1, 300), (1, 300)):
        start = day_start + datetime.timedelta(days=day_offset)
        for content_type, object_id in rng.choices(content, weights, k=scaled(count, scale, 30)):
            impressions.append(
                Impression(
                    content_type=content_type,
                    object_id=object_id,
                    created=start + datetime.timedelta(seconds=rng.randrange(24 * 60 * 60)),
                )
            )
    Impression.objects.bulk_create(impressions)
    return {"stats.Tag": len(tags), "stats.Impression": len(impressions)}
