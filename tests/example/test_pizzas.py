"""The pizza menu (seed 003's many-to-many example)."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pizzas.menu import menu_lines, menu_pizzas
from pizzas.models import Pizza, Topping


def test_menu_lists_toppings_in_name_order(seeded: dict[str, int]) -> None:
    lines = menu_lines(menu_pizzas())
    assert [name for name, _price, _toppings in lines] == sorted(
        Pizza.objects.values_list("name", flat=True)
    )
    assert all(toppings == sorted(toppings) and len(toppings) >= 2 for _n, _p, toppings in lines)


def test_menu_is_two_queries_whatever_the_pizzas(seeded: dict[str, int]) -> None:
    extra = Pizza.objects.create(name="Della casa", price="12.50")
    extra.toppings.set(Topping.objects.all()[:3])
    with CaptureQueriesContext(connection) as captured:
        lines = menu_lines(menu_pizzas())
    assert len(lines) == seeded["pizzas.Pizza"] + 1
    assert len(captured) == 2


def test_menu_pages_render_the_same(seeded: dict[str, int], client: Client) -> None:
    slow = client.get(reverse("pizzas:menu-slow"))
    optimized = client.get(reverse("pizzas:menu"))
    assert slow.status_code == optimized.status_code == 200
    assert slow.content == optimized.content
    assert b"Margherita" in optimized.content or b"Bianca" in optimized.content
