"""Demo data of the pizzas app: a pizzeria's menu."""

from __future__ import annotations

from decimal import Decimal

from pizzas.models import Pizza, Topping
from shopsite.seed import insert, rng_for, scaled

# (topping, vegetarian)
TOPPINGS = (
    ("anchovies", False),
    ("artichoke", True),
    ("basil", True),
    ("capers", True),
    ("chorizo", False),
    ("garlic", True),
    ("gorgonzola", True),
    ("ham", False),
    ("mozzarella", True),
    ("mushrooms", True),
    ("olives", True),
    ("onions", True),
    ("peppers", True),
    ("pineapple", True),
    ("rocket", True),
    ("salami", False),
)
PIZZAS = (
    "Bianca",
    "Boscaiola",
    "Calabrese",
    "Capricciosa",
    "Diavola",
    "Funghi",
    "Hawaii",
    "Margherita",
    "Marinara",
    "Napoli",
    "Ortolana",
    "Parma",
    "Pugliese",
    "Quattro formaggi",
    "Quattro stagioni",
    "Regina",
    "Romana",
    "Rustica",
    "Siciliana",
    "Tonno",
    "Valtellina",
    "Vegetariana",
    "Viennese",
    "Zingara",
)


def clear() -> None:
    Pizza.objects.all().delete()
    Topping.objects.all().delete()


def seed(scale: float) -> dict[str, int]:
    rng = rng_for("pizzas")
    toppings = insert(Topping, [Topping(name=name, vegetarian=veg) for name, veg in TOPPINGS])
    pizzas = insert(
        Pizza,
        [
            Pizza(name=name, price=Decimal(rng.randint(16, 30)) / 2)
            for name in PIZZAS[: scaled(len(PIZZAS), scale, minimum=6)]
        ],
    )
    through = Pizza.toppings.through
    pizza_toppings = [
        through(pizza_id=pizza.pk, topping_id=topping.pk)
        for pizza in pizzas
        for topping in rng.sample(toppings, rng.randint(2, 5))
    ]
    through.objects.bulk_create(pizza_toppings)
    return {
        "pizzas.Topping": len(toppings),
        "pizzas.Pizza": len(pizzas),
        "pizzas.Pizza_toppings": len(pizza_toppings),
    }
