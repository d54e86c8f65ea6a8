"""Models of the pizzas app: seed 003's many-to-many example, Pizza and Topping."""

from __future__ import annotations

from django.db import models


class Topping(models.Model):
    name = models.CharField(max_length=100, unique=True)
    vegetarian = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Pizza(models.Model):
    name = models.CharField(max_length=100, unique=True)
    price = models.DecimalField(max_digits=6, decimal_places=2)
    toppings = models.ManyToManyField(Topping, related_name="pizzas")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
