"""The checkout path: a customer's cart (kept in the cache) becomes an order.

    POST /orders/checkout/  customer=<id>   -> 201 {"order": <id>, "total": "..."}

The cart is a list of (product id, quantity) under ``cart:<customer id>``;
``add_to_cart`` fills it. The checkout reads the cart, the customer and the
cart's products in one query, writes the order and all its lines in two
statements, and empties the cart. Its performance record
(tests/example/test_checkout.perf.yml) keeps it that way.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import Customer
from catalogue.models import Product
from orders.models import Order, OrderLine


def cart_key(customer_id: int) -> str:
    return f"cart:{customer_id}"


def add_to_cart(customer_id: int, product_id: int, quantity: int = 1) -> None:
    cart = cache.get(cart_key(customer_id)) or []
    cache.set(cart_key(customer_id), [*cart, (product_id, quantity)], timeout=3600)


@csrf_exempt
@require_POST
def checkout(request: HttpRequest) -> JsonResponse:
    customer = get_object_or_404(Customer, pk=request.POST.get("customer"))
    cart = cache.get(cart_key(customer.pk)) or []
    if not cart:
        return JsonResponse({"error": "the cart is empty"}, status=400)
    products = Product.objects.in_bulk([product_id for product_id, _ in cart])
    with transaction.atomic():
        order = Order.objects.create(customer=customer, created=timezone.now())
        lines = OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product=products[product_id],
                quantity=quantity,
                price=products[product_id].price,
            )
            for product_id, quantity in cart
        )
    cache.delete(cart_key(customer.pk))
    total = sum((line.subtotal for line in lines), start=0)
    return JsonResponse({"order": order.pk, "total": str(total)}, status=201)
