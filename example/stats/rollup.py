"""Roll one day of impressions into DailyImpressionStats with their tags (seed 004).

seed 004, "Optimizing creation of new many-to-many records": create() in a loop
is "a surefire way to degrade the performance of your database", and a
many-to-many cannot be set on an unsaved instance. The way out: bulk_create the
stats (the backends the shop runs on set their ids), then bulk_create the rows
of the M2M's through model, ``DailyImpressionStats.tags.through``: what
``djperf.bulk_create_with_m2m()`` does.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count

import djperf
from stats.models import DailyImpressionStats, Impression, Tag

# At or above this many impressions in a day, content is tagged "popular".
POPULAR_FROM = 10


def impression_data(for_date: datetime.date) -> Iterator[dict[str, Any]]:
    """{'content_type': id, 'object_id': id, 'total_impressions': n} per content seen that day."""
    # A half-open range on the indexed column rather than created__date, which
    # wraps the column in a function (and needs time zone tables on MySQL).
    start = datetime.datetime.combine(for_date, datetime.time.min, tzinfo=datetime.UTC)
    end = start + datetime.timedelta(days=1)
    rows = (
        Impression.objects.filter(created__gte=start, created__lt=end)
        .values("content_type", "object_id")
        .annotate(total_impressions=Count("id"))
        .order_by("content_type", "object_id")
    )
    yield from rows


def tags_for_content(
    content_type_id: int, total_impressions: int, tags_by_name: Mapping[str, Tag]
) -> list[Tag]:
    """The content's kind ('product', 'video') and its traffic ('popular' or 'long-tail')."""
    kind = ContentType.objects.get_for_id(content_type_id).model  # cached after the first call
    traffic = "popular" if total_impressions >= POPULAR_FROM else "long-tail"
    return [tags_by_name[name] for name in (kind, traffic) if name in tags_by_name]


def _tags_by_name() -> dict[str, Tag]:
    return Tag.objects.in_bulk(field_name="name")


def roll_up_impressions_slow(for_date: datetime.date) -> int:
    tags_by_name = _tags_by_name()
    count = 0
    for content_impression in impression_data(for_date):
        # One INSERT per row, then set() queries and inserts the tags of each row.
        daily_impression = DailyImpressionStats.objects.create(
            content_type_id=content_impression["content_type"],
            object_id=content_impression["object_id"],
            date=for_date,
            total_impressions=content_impression["total_impressions"],
        )
        daily_impression.tags.set(
            tags_for_content(
                content_impression["content_type"],
                content_impression["total_impressions"],
                tags_by_name,
            )
        )
        count += 1
    return count


def roll_up_impressions(for_date: datetime.date) -> int:
    tags_by_name = _tags_by_name()
    daily_impressions: list[DailyImpressionStats] = []
    tags_of: list[list[Tag]] = []
    for content_impression in impression_data(for_date):
        daily_impressions.append(
            DailyImpressionStats(
                content_type_id=content_impression["content_type"],
                object_id=content_impression["object_id"],
                date=for_date,
                total_impressions=content_impression["total_impressions"],
            )
        )
        tags_of.append(
            tags_for_content(
                content_impression["content_type"],
                content_impression["total_impressions"],
                tags_by_name,
            )
        )
    # The stats in one INSERT per 1000, then their tags' through rows the same
    # way, in one transaction (seed 004's trick, done by djperf). MySQL (unlike
    # MariaDB 10.5+) returns no ids from a multi-row INSERT: they are read back
    # by the row's natural key, one query per 1000.
    djperf.bulk_create_with_m2m(
        daily_impressions, {"tags": tags_of}, match_on=("content_type", "object_id", "date")
    )
    return len(daily_impressions)
