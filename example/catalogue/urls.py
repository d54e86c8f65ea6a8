"""Catalogue pages: the optimized version at the plain URL, the slow one under slow/."""

from __future__ import annotations

from django.urls import path

from catalogue import views

app_name = "catalogue"

urlpatterns = [
    path("products/", views.product_list, name="product-list"),
    path("products/slow/", views.product_list_slow, name="product-list-slow"),
    path("products/<slug:slug>/", views.product_detail, name="product-detail"),
    path("products/<slug:slug>/slow/", views.product_detail_slow, name="product-detail-slow"),
    path("reviews/", views.review_list, name="review-list"),
    path("reviews/slow/", views.review_list_slow, name="review-list-slow"),
    path("categories/", views.category_list, name="category-list"),
    path("categories/slow/", views.category_list_slow, name="category-list-slow"),
]
