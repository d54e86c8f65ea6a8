"""Slow and optimized scenarios of the orders app (seed 003)."""

from __future__ import annotations

from shopsite.pages import fetch_html
from shopsite.scenarios import Scenario, register


def order_list_slow() -> str:
    return fetch_html("orders:order-list-slow")


def order_list_optimized() -> str:
    return fetch_html("orders:order-list")


register(
    Scenario(
        name="orders.order_list",
        title="Order list page: customer, lines and products on every row",
        slow=order_list_slow,
        optimized=order_list_optimized,
        source="003 backend performance talk: the 'order-list' query-count test "
        "(assertNumQueries before and after OrderFactory.create_batch(20))",
        tags=frozenset({"n-plus-one"}),
    )
)
