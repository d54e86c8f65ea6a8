"""Models of the stats app: impressions of any content, rolled up daily (seed 004).

Impression points at any model through a generic foreign key; products and
videos point back with a GenericRelation (``product.impressions``), so the shop
has generic relations both ways.
"""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Impression(models.Model):
    content_type = models.ForeignKey(ContentType, models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    created = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} at {self.created:%Y-%m-%d %H:%M}"


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DailyImpressionStats(models.Model):
    content_type = models.ForeignKey(ContentType, models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    date = models.DateField()
    total_impressions = models.PositiveIntegerField()
    tags = models.ManyToManyField(Tag, related_name="daily_stats")

    class Meta:
        ordering = ["date", "content_type", "object_id"]
        verbose_name_plural = "daily impression stats"
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "date"], name="one_stats_row_per_content_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} on {self.date}: {self.total_impressions}"
