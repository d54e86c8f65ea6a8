"""Slow and optimized scenarios of the pizzas app (seed 003)."""

from __future__ import annotations

from pizzas.menu import MenuLine, menu_lines, menu_pizzas, menu_pizzas_slow
from shopsite.scenarios import Scenario, register


def menu_slow() -> list[MenuLine]:
    return menu_lines(menu_pizzas_slow())


def menu_optimized() -> list[MenuLine]:
    return menu_lines(menu_pizzas())


register(
    Scenario(
        name="pizzas.menu",
        title="Pizza menu with toppings: one toppings query per pizza",
        slow=menu_slow,
        optimized=menu_optimized,
        source="003 backend performance talk: Pizza.objects.prefetch_related('toppings')",
        tags=frozenset({"n-plus-one"}),
    )
)
