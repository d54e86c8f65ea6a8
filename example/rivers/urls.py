"""The river dashboards: v1 (sequential), v2 (thread pool), v3 (asyncio.gather)."""

from __future__ import annotations

from django.urls import path

from rivers import views

app_name = "rivers"

urlpatterns = [
    path("v1/", views.dashboard_v1, name="dashboard-v1"),
    path("v2/", views.dashboard_v2, name="dashboard-v2"),
    path("v3/", views.dashboard_v3, name="dashboard-v3"),
]
