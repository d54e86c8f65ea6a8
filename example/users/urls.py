"""Profile lookups: optimized at the plain URL, slow under slow/."""

from __future__ import annotations

from django.urls import path

from users import views

app_name = "users"

urlpatterns = [
    path("profiles/", views.user_profiles, name="profiles"),
    path("profiles/slow/", views.user_profiles_slow, name="profiles-slow"),
    path("cached/", views.cached_user_profiles, name="cached"),
    path("cached/slow/", views.cached_user_profiles_slow, name="cached-slow"),
    path("<str:username>/", views.user_profile, name="profile"),
]
