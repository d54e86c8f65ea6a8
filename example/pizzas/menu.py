"""The pizza menu: every pizza with its toppings (seed 003, "Here comes prefetch_related")."""

from __future__ import annotations

from django.db.models import QuerySet

from pizzas.models import Pizza

MenuLine = tuple[str, str, list[str]]


def menu_pizzas_slow() -> QuerySet[Pizza]:
    return Pizza.objects.all()


def menu_pizzas() -> QuerySet[Pizza]:
    # "prefetch_related uses 2 queries": the pizzas, then every topping of them.
    return Pizza.objects.prefetch_related("toppings")


def menu_lines(pizzas: QuerySet[Pizza]) -> list[MenuLine]:
    """The printed menu: name, price and topping names of each pizza."""
    return [
        (pizza.name, str(pizza.price), [topping.name for topping in pizza.toppings.all()])
        for pizza in pizzas
    ]
