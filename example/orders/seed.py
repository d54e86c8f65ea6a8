"""Demo data of the orders app: orders of the seeded customers for the seeded products."""

from __future__ import annotations

import datetime

from accounts.models import Customer
from catalogue.models import Product
from orders.models import Order, OrderLine
from shopsite.seed import BASE_TIME, insert, rng_for, scaled


def clear() -> None:
    OrderLine.objects.all().delete()
    Order.objects.all().delete()


def seed(scale: float) -> dict[str, int]:
    rng = rng_for("orders")
    customers = list(Customer.objects.order_by("pk"))
    products = list(Product.objects.order_by("pk"))
    orders = insert(
        Order,
        [
            Order(
                customer=rng.choice(customers),
                created=BASE_TIME - datetime.timedelta(minutes=rng.randint(0, 90 * 24 * 60)),
                status=rng.choice(Order.Status.values),
            )
            for _ in range(scaled(50, scale, minimum=8))
        ],
    )
    lines = [
        OrderLine(order=order, product=product, quantity=rng.randint(1, 3), price=product.price)
        for order in orders
        for product in rng.sample(products, rng.randint(1, 4))
    ]
    OrderLine.objects.bulk_create(lines)
    return {"orders.Order": len(orders), "orders.OrderLine": len(lines)}
