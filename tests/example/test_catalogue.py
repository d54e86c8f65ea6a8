"""Catalogue pages and query sets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalogue.models import Category, Product, Review
from catalogue.seed import FEATURED_PRODUCT_SLUG


def test_optimize_for_list_is_two_queries_whatever_the_rows(seeded: dict[str, int]) -> None:
    with CaptureQueriesContext(connection) as captured:
        rows = [
            (
                product.brand.name,
                product.category.name,
                [image.url for image in product.images.all()],
            )
            for product in Product.objects.optimize_for_list()
        ]
    assert len(rows) == seeded["catalogue.Product"]
    assert len(captured) == 2


def test_review_optimize_for_list(seeded: dict[str, int]) -> None:
    with CaptureQueriesContext(connection) as captured:
        for review in Review.objects.optimize_for_list():
            assert review.product.brand.name
            list(review.product.images.all())
    assert len(captured) == 2


def test_product_page(seeded: dict[str, int], client: Client) -> None:
    response = client.get(reverse("catalogue:product-detail", args=[FEATURED_PRODUCT_SLUG]))
    assert response.status_code == 200
    assert b"Trailhead 40L Backpack" in response.content
    assert response.content.count(b"<blockquote>") == 5


@pytest.mark.parametrize("url_name", ["catalogue:product-detail", "catalogue:product-detail-slow"])
def test_unknown_product_is_404(seeded: dict[str, int], client: Client, url_name: str) -> None:
    assert client.get(reverse(url_name, args=["no-such-product"])).status_code == 404


def test_category_list_leaves_out_seo_text(seeded: dict[str, int], client: Client) -> None:
    category = Category.objects.first()
    assert category is not None
    assert len(category.seo_text) > 2000
    content = client.get(reverse("catalogue:category-list")).content.decode()
    assert category.description in content
    assert category.seo_text[:60] not in content
