"""The stats app has no pages: its scenario is the nightly roll-up task."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "stats"

urlpatterns: list[URLPattern] = []
