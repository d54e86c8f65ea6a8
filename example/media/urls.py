"""The media app has no pages: its scenario is the daily autocomplete task."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "media"

urlpatterns: list[URLPattern] = []
