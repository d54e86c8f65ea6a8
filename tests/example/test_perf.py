"""The shop's performance tests, written as a djperf user writes them: the
order and product lists must ask the same whatever the number of rows.

The slow pages fail the scaling assertion, with the message docs/testing.md
shows; their optimized twins pass.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from shopsite.factories import make_orders, make_products


def page(client: Client, url_name: str):
    def get():
        response = client.get(reverse(url_name))
        assert response.status_code == 200
        return response

    return get


def test_order_list_scales(djperf, seeded, client):
    djperf.assert_constant_queries(make_orders, page(client, "orders:order-list"))


def test_product_list_scales(djperf, seeded, client):
    djperf.assert_constant_queries(make_products, page(client, "catalogue:product-list"))


def test_the_slow_order_list_fails_naming_what_grew_and_the_fix(djperf, seeded, client):
    with pytest.raises(AssertionError) as failure:
        djperf.assert_constant_queries(make_orders, page(client, "orders:order-list-slow"))
    lines = str(failure.value).splitlines()
    assert lines[0].startswith("Expected the same number of queries at every scale, got ")
    # Per order: its customer and its lines; per line (two an order): its product.
    fixes = {}
    for i, text in enumerate(lines):
        if text.startswith("  SELECT "):
            cure = next(line for line in lines[i + 1 :] if line.startswith("      n-plus-one"))
            fixes[text] = (lines[i + 1], cure)
    customer = fixes["  SELECT ... FROM accounts_customer WHERE accounts_customer.id = # LIMIT #"]
    assert customer == (
        "      11 -> 31 (+1/row)",
        "      n-plus-one  fix: .select_related('customer')",
    )
    product = fixes["  SELECT ... FROM catalogue_product WHERE catalogue_product.id = # LIMIT #"]
    assert product[0].endswith(" (+2/row)")
    assert product[1] == "      n-plus-one  fix: .prefetch_related('lines__product')"
    assert any(
        line.startswith("  at       example/orders/templates/orders/order_list.html:9")
        for line in lines
    )


def test_the_slow_product_list_fails_naming_what_grew_and_the_fix(djperf, seeded, client):
    with pytest.raises(AssertionError) as failure:
        djperf.assert_constant_queries(make_products, page(client, "catalogue:product-list-slow"))
    lines = str(failure.value).splitlines()
    assert lines.count("      20 -> 40 (+1/row)") == 0  # the seeded products count too
    fixes = [line for line in lines if line.startswith("      n-plus-one  fix: ")]
    assert sorted(fixes) == [
        "      n-plus-one  fix: .prefetch_related('images')",
        "      n-plus-one  fix: .select_related('brand')",
        "      n-plus-one  fix: .select_related('category')",
    ]
