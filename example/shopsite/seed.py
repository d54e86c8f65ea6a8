"""The demo shop's data: the same rows on every run, at any scale.

``seed_shop()`` clears what a previous run left and fills every app again,
in dependency order (orders need customers and products; stats need products
and videos). Each app writes its own rows in ``<app>/seed.py``, with bulk_create
and a random.Random seeded with the app's name, so adding rows to one app does
not reshuffle another's.

Times are fixed (BASE_TIME), except the mail app's: its retention purge compares
against timezone.now(), so its mailers are placed relative to now, at fixed
offsets.

Sizes at scale 1 keep the whole demo well under a minute on SQLite: about 200
products, 50 orders, 300 mailers (mostly old), 2,000 bigdata rows, 6 river sites.
"""

from __future__ import annotations

import datetime
import importlib
import random
from collections.abc import Sequence
from types import ModuleType
from typing import TypeVar

from django.db import models, transaction

# The day seed 004 rolls impressions up for; the shop's clock for fixed data.
BASE_TIME = datetime.datetime(2024, 8, 24, 9, 0, tzinfo=datetime.UTC)

# Seeding order: every app after the apps its rows point to. The users app
# serves the auth users the accounts app creates, and has no rows of its own.
SEEDED_APPS = (
    "catalogue",
    "accounts",
    "pizzas",
    "orders",
    "media",
    "mail",
    "stats",
    "bigdata",
    "rivers",
)

M = TypeVar("M", bound=models.Model)


def scaled(count: int, scale: float, minimum: int = 1) -> int:
    """`count` rows at scale 1, at least `minimum` so every scenario has rows to show."""
    return max(minimum, round(count * scale))


def rng_for(app: str) -> random.Random:
    # A string seed is hashed with SHA-512, not hash(): stable across processes.
    return random.Random(f"djperf-shop:{app}")


def insert(model: type[M], objs: Sequence[M]) -> list[M]:
    """bulk_create `objs` and return them with their primary keys set.

    SQLite, PostgreSQL and MariaDB return the new ids from the INSERT. MySQL
    cannot; there the rows of one seeding transaction have consecutive ids, so
    the last len(objs) rows are read back in id order.
    """
    created = model._default_manager.bulk_create(objs)
    if not created or created[0].pk is not None:
        return created
    return list(model._default_manager.order_by("-pk")[: len(objs)])[::-1]


def _seed_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{app}.seed") for app in SEEDED_APPS]


@transaction.atomic
def clear_shop() -> None:
    """Delete the seeded rows, dependents first."""
    for module in reversed(_seed_modules()):
        module.clear()


@transaction.atomic
def seed_shop(scale: float = 1.0) -> dict[str, int]:
    """Replace the shop's data; returns the rows created per model ("app.Model")."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    clear_shop()
    counts: dict[str, int] = {}
    for module in _seed_modules():
        counts |= module.seed(scale)
    return counts
