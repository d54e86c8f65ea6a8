from __future__ import annotations

from django.apps import AppConfig


class ShopsiteConfig(AppConfig):
    """The demo shop's project package, installed for its seed_shop command."""

    name = "shopsite"
    verbose_name = "djperf demo shop"
