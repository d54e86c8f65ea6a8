"""Models of the media app: the videos whose titles feed the search autocomplete (seed 004)."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericRelation
from django.db import models


class Video(models.Model):
    title = models.CharField(max_length=200)
    duration_seconds = models.PositiveIntegerField(default=0)
    impressions = GenericRelation("stats.Impression", related_query_name="video")

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title.strip()
