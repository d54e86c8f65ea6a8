"""Models of the rivers app: the gauging stations of seed 000's async dashboard."""

from __future__ import annotations

from django.db import models


class RiverSite(models.Model):
    # The USGS site number, e.g. "06191500": a string, leading zeros matter.
    site_id = models.CharField(max_length=15, unique=True)
    name = models.CharField(max_length=200)
    # Upstream to downstream, the order the dashboard lists them in.
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "site_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.site_id})"
