"""Product, review and category pages, each in a slow and an optimized version.

Both versions of a page render the same template with the same context, so the
HTML is identical: only the query sets differ (seed 003, "Here comes
select_related" / "Here comes prefetch_related" / "The .defer() method").
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from catalogue.models import Category, Product, Review

# The review page shows the latest reviews only.
LATEST_REVIEWS = 50


def product_list_slow(request: HttpRequest) -> HttpResponse:
    # The template reads product.brand.name, product.category.name and
    # product.images.all on every row: 1 + 3N queries (seed 003, "O(4n + 1)").
    products = Product.objects.all()
    return render(request, "catalogue/product_list.html", {"products": products})


def product_list(request: HttpRequest) -> HttpResponse:
    # One join for brand and category, one query for all the images: 2 queries.
    products = Product.objects.optimize_for_list()
    return render(request, "catalogue/product_list.html", {"products": products})


def product_detail_slow(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(Product, slug=slug)
    return render(request, "catalogue/product_detail.html", {"product": product})


def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(Product.objects.optimize_for_details(), slug=slug)
    return render(request, "catalogue/product_detail.html", {"product": product})


def review_list_slow(request: HttpRequest) -> HttpResponse:
    reviews = Review.objects.all()[:LATEST_REVIEWS]
    return render(request, "catalogue/review_list.html", {"reviews": reviews})


def review_list(request: HttpRequest) -> HttpResponse:
    reviews = Review.objects.optimize_for_list()[:LATEST_REVIEWS]
    return render(request, "catalogue/review_list.html", {"reviews": reviews})


def category_list_slow(request: HttpRequest) -> HttpResponse:
    # Reads every column, including kilobytes of seo_text per row that the list
    # never shows: same number of queries, much more data on the wire.
    categories = Category.objects.all()
    return render(request, "catalogue/category_list.html", {"categories": categories})


def category_list(request: HttpRequest) -> HttpResponse:
    categories = Category.objects.defer("seo_text")
    return render(request, "catalogue/category_list.html", {"categories": categories})
