"""The pizza menu: optimized at menu/, slow at menu/slow/."""

from __future__ import annotations

from django.urls import path

from pizzas import views

app_name = "pizzas"

urlpatterns = [
    path("menu/", views.menu, name="menu"),
    path("menu/slow/", views.menu_slow, name="menu-slow"),
]
