"""seed 003's order-list test: the query count must not grow with the orders."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Customer
from catalogue.models import Product
from orders.models import Order, OrderLine
from shopsite.seed import BASE_TIME


def add_orders(count: int) -> None:
    customers = list(Customer.objects.all()[:3])
    products = list(Product.objects.all()[:5])
    for number in range(count):
        order = Order.objects.create(
            customer=customers[number % len(customers)],
            created=BASE_TIME + datetime.timedelta(hours=number),
        )
        OrderLine.objects.bulk_create(
            OrderLine(order=order, product=product, quantity=2, price=product.price)
            for product in products[: 1 + number % 3]
        )


def queries_for(url_name: str, client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse(url_name)).status_code == 200
    return len(captured)


def test_order_list_query_count_does_not_grow(seeded: dict[str, int], client: Client) -> None:
    Order.objects.all().delete()
    add_orders(2)
    optimized_for_2 = queries_for("orders:order-list", client)
    slow_for_2 = queries_for("orders:order-list-slow", client)
    add_orders(10)
    assert Order.objects.count() == 12
    assert queries_for("orders:order-list", client) == optimized_for_2 == 3
    assert queries_for("orders:order-list-slow", client) > slow_for_2


def test_order_total(seeded: dict[str, int]) -> None:
    order = Order.objects.create(customer=Customer.objects.first(), created=BASE_TIME)
    product = Product.objects.first()
    OrderLine.objects.create(order=order, product=product, quantity=2, price=Decimal("9.50"))
    OrderLine.objects.create(order=order, product=product, quantity=1, price=Decimal("1.25"))
    assert order.total() == Decimal("20.25")
