"""Models of the orders app: seed 003's order list, whose query count must not grow."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from accounts.models import Customer
from catalogue.models import Product


class Order(models.Model):
    class Status(models.TextChoices):
        PLACED = "placed", "Placed"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"

    customer = models.ForeignKey(Customer, models.PROTECT, related_name="orders")
    created = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status, default=Status.PLACED)

    class Meta:
        ordering = ["-created", "id"]

    def __str__(self) -> str:
        return f"order {self.pk} of {self.customer_id}"

    def total(self) -> Decimal:
        # Reads self.lines.all(), so it uses the prefetched lines when there are some.
        return sum((line.subtotal for line in self.lines.all()), Decimal("0.00"))


class OrderLine(models.Model):
    order = models.ForeignKey(Order, models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField(default=1)
    # The unit price when the order was placed: catalogue prices change.
    price = models.DecimalField(max_digits=8, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"

    @property
    def subtotal(self) -> Decimal:
        return self.price * self.quantity
