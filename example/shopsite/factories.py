"""Test data for the shop's performance tests: n orders, n products.

Each row comes with rows of its own to point at (a customer and its address,
a brand, a category), so a page that loads a relation one row at a time
asks once more per added row, and ``assert_constant_queries`` sees it.
Written one row at a time on purpose: these build test data, and djperf's
scaling assertion keeps them out of what it measures.
"""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from accounts.models import Address, Customer
from catalogue.models import Brand, Category, Product, ProductImage
from orders.models import Order, OrderLine
from shopsite.seed import BASE_TIME

# Names unique across calls (a test may populate several scales in a row).
_serial = itertools.count(1)


def make_products(n: int) -> list[Product]:
    """n products, each with its own brand and category and one image."""
    products = []
    for _ in range(n):
        number = next(_serial)
        product = Product.objects.create(
            brand=Brand.objects.create(name=f"Factory brand {number}"),
            category=Category.objects.create(
                name=f"Factory category {number}", slug=f"factory-category-{number}"
            ),
            title=f"Factory product {number}",
            slug=f"factory-product-{number}",
            price=Decimal("9.90"),
        )
        ProductImage.objects.create(product=product, url=f"/img/factory-{number}.jpg")
        products.append(product)
    return products


def make_orders(n: int) -> list[Order]:
    """n orders, each by a new customer, each with two lines of new products."""
    orders = []
    for _ in range(n):
        number = next(_serial)
        address = Address.objects.create(
            street=f"{number} Factory Road", postcode="75001", city="Paris"
        )
        customer = Customer.objects.create(
            name=f"Factory customer {number}", email=f"c{number}@example.com", address=address
        )
        order = Order.objects.create(
            customer=customer, created=BASE_TIME + datetime.timedelta(minutes=number)
        )
        for product in make_products(2):
            OrderLine.objects.create(order=order, product=product, quantity=1, price=product.price)
        orders.append(order)
    return orders
