"""The demo shop, seeded once for the tests of this package.

The seed is committed once (package scope) at a small scale; each test then
runs inside pytest-django's rolled-back transaction, so a test that changes
rows cannot disturb the next. The rows are deleted when the package is done,
so the rest of the suite starts from an empty shop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings
from pytest_django import DjangoDbBlocker
from redis import Redis
from redis.exceptions import RedisError

from shopsite.seed import clear_shop, seed_shop

# Small enough to keep every backend's run fast, large enough that every
# scenario has several rows (each app's seed has minimums).
SCALE = 0.2
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="package")
def shop(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[dict[str, int]]:
    with django_db_blocker.unblock():
        counts = seed_shop(scale=SCALE)
    yield counts
    with django_db_blocker.unblock():
        clear_shop()


@pytest.fixture
def seeded(shop: dict[str, int], db: None) -> dict[str, int]:
    """The seeded shop, inside this test's transaction."""
    return shop


def unavailable(reason: str) -> None:
    """Skip a test whose server is missing; under CI=true, fail it instead."""
    __tracebackhide__ = True
    if IN_CI:
        pytest.fail(f"{reason} [CI=true: a missing server is a failure]")
    pytest.skip(reason)


@pytest.fixture
def redis_client() -> Iterator[Redis]:
    client = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (RedisError, OSError) as error:
        client.close()
        unavailable(f"no Redis at {settings.REDIS_URL} ({error})")
    yield client
    client.close()
