"""The mail app has no pages: its scenario is the daily retention task."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "mail"

urlpatterns: list[URLPattern] = []
