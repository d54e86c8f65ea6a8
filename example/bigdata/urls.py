"""The bigdata app has no pages: its work is the recompute_scores command."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "bigdata"

urlpatterns: list[URLPattern] = []
