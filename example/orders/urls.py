"""The order list: optimized at the app root, slow under slow/."""

from __future__ import annotations

from django.urls import path

from orders import checkout, views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="order-list"),
    path("slow/", views.order_list_slow, name="order-list-slow"),
    path("checkout/", checkout.checkout, name="checkout"),
]
