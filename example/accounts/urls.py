"""The accounts app has no pages: its scenarios are a letter run and a rebuild task."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "accounts"

urlpatterns: list[URLPattern] = []
