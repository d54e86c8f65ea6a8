"""The order list (seed 003's "order-list" route), slow and optimized.

seed 003, "What could be done": assert the query count for one order, add
twenty more, and assert it again. The slow page fails that test (1 + N queries
for customers, N for lines, one per line for products); the optimized page runs
3 queries whatever the number of orders.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from orders.models import Order


def order_list_slow(request: HttpRequest) -> HttpResponse:
    return render(request, "orders/order_list.html", {"orders": Order.objects.all()})


def order_list(request: HttpRequest) -> HttpResponse:
    orders = Order.objects.select_related("customer").prefetch_related("lines__product")
    return render(request, "orders/order_list.html", {"orders": orders})
