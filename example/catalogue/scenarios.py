"""Slow and optimized scenarios of the catalogue app (seed 003, backend performance talk)."""

from __future__ import annotations

from catalogue.models import Category
from catalogue.seed import FEATURED_PRODUCT_SLUG
from shopsite.pages import fetch_html
from shopsite.scenarios import Scenario, register

SEED_003 = "003 backend performance talk"


def product_list_slow() -> str:
    return fetch_html("catalogue:product-list-slow")


def product_list_optimized() -> str:
    return fetch_html("catalogue:product-list")


def product_detail_slow() -> str:
    return fetch_html("catalogue:product-detail-slow", FEATURED_PRODUCT_SLUG)


def product_detail_optimized() -> str:
    return fetch_html("catalogue:product-detail", FEATURED_PRODUCT_SLUG)


def review_list_slow() -> str:
    return fetch_html("catalogue:review-list-slow")


def review_list_optimized() -> str:
    return fetch_html("catalogue:review-list")


def category_menu_slow() -> list[tuple[str, str]]:
    # only("name") was right while the menu showed names. Then the menu grew a
    # description tooltip, and every row now loads its description with a query
    # of its own (seed 003: "Be careful of hidden usage of fields").
    return [(category.name, category.description) for category in Category.objects.only("name")]


def category_menu_optimized() -> list[tuple[str, str]]:
    categories = Category.objects.only("name", "description")
    return [(category.name, category.description) for category in categories]


def category_list_slow() -> str:
    return fetch_html("catalogue:category-list-slow")


def category_list_optimized() -> str:
    return fetch_html("catalogue:category-list")


register(
    Scenario(
        name="catalogue.product_list",
        title="Product list page: brand, category and images on every row",
        slow=product_list_slow,
        optimized=product_list_optimized,
        source=f"{SEED_003}: 'Here comes select_related' and 'Here comes prefetch_related'",
        tags=frozenset({"n-plus-one"}),
    )
)
register(
    Scenario(
        name="catalogue.product_detail",
        title="Product page: one product with its brand, category, images and reviews",
        slow=product_detail_slow,
        optimized=product_detail_optimized,
        source=f"{SEED_003}: optimize_for_details() composed from optimize_for_list()",
    )
)
register(
    Scenario(
        name="catalogue.review_list",
        title="Latest reviews with their product, brand and thumbnail",
        slow=review_list_slow,
        optimized=review_list_optimized,
        source=f"{SEED_003}: optimize_for_list() = select_related('product__brand')"
        ".prefetch_related('product__images')",
        tags=frozenset({"n-plus-one"}),
    )
)
register(
    Scenario(
        name="catalogue.category_menu",
        title="Category menu: a field left out of only() is loaded row by row",
        slow=category_menu_slow,
        optimized=category_menu_optimized,
        source=f"{SEED_003}: 'The .only() method'",
        tags=frozenset({"deferred-field"}),
    )
)
register(
    Scenario(
        name="catalogue.category_list",
        title="Category list page without the large seo_text column",
        slow=category_list_slow,
        optimized=category_list_optimized,
        metric="columns",
        source=f"{SEED_003}: 'The .defer() method' (Category.objects.defer('seo_text'))",
    )
)
