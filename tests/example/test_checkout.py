"""The checkout path under a performance record (tests/example/test_checkout.perf.yml):
what it asks of the database and the cache stays what was reviewed."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.models import Customer
from catalogue.models import Product
from orders.checkout import add_to_cart
from orders.models import Order

pytestmark = pytest.mark.skipif(
    os.environ.get("DJPERF_TEST_DB", "sqlite") != "sqlite",
    reason="the record holds SQLite's statements (the demo's database)",
)


@pytest.fixture
def cart(seeded):
    cache.clear()
    customer = Customer.objects.order_by("pk").first()
    for product in Product.objects.order_by("pk")[:3]:
        add_to_cart(customer.pk, product.pk, quantity=2)
    return customer


def test_checkout(djperf, client, cart):
    with djperf.record():
        response = client.post(reverse("orders:checkout"), {"customer": cart.pk})
    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["order"])
    assert order.lines.count() == 3
    assert cache.get(f"cart:{cart.pk}") is None


def test_checkout_of_an_empty_cart(djperf, client, seeded):
    cache.clear()
    customer = Customer.objects.order_by("pk").first()
    with djperf.record():
        response = client.post(reverse("orders:checkout"), {"customer": customer.pk})
    assert response.status_code == 400
