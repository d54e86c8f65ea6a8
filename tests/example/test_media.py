"""The autocomplete prefixes in Redis (seed 004)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from media.autocomplete import (
    MAX_PREFIX_LENGTH,
    autocomplete_prefixes,
    update_autocomplete_prefixes,
    update_autocomplete_prefixes_slow,
)
from media.models import Video
from shopsite.scenarios import execute, get

pytestmark = pytest.mark.redis


@pytest.fixture
def key(redis_client: Redis) -> Iterator[str]:
    name = f"djperf-test:{uuid.uuid4().hex}:autocomplete"
    yield name
    redis_client.delete(name)


@pytest.mark.parametrize(
    "update", [update_autocomplete_prefixes, update_autocomplete_prefixes_slow]
)
def test_prefixes_are_lowered_and_trimmed(
    redis_client: Redis, key: str, update: object, db: None
) -> None:
    Video.objects.create(title="  Crème Brûlée at Base camp ")
    Video.objects.create(title="Ox")
    update(redis_client, key)  # type: ignore[operator]
    prefixes = autocomplete_prefixes(redis_client, key)
    assert "crème b" in prefixes
    assert "crème br" in prefixes
    assert "crème brû" not in prefixes  # longer than MAX_PREFIX_LENGTH
    assert {"o", "ox"} <= set(prefixes)
    assert all(len(prefix) <= MAX_PREFIX_LENGTH for prefix in prefixes)
    # Titles are trimmed; a prefix may still end inside the title, on a space.
    assert all(prefix == prefix.lower() and not prefix.startswith(" ") for prefix in prefixes)


def test_update_replaces_the_previous_set(redis_client: Redis, key: str, db: None) -> None:
    redis_client.zadd(key, {"stale": 0})
    Video.objects.create(title="Fresh")
    update_autocomplete_prefixes(redis_client, key)
    assert "stale" not in autocomplete_prefixes(redis_client, key)


def test_scenario_leaves_no_key_behind(redis_client: Redis, seeded: dict[str, int]) -> None:
    from media.scenarios import AUTOCOMPLETE_KEY

    prefixes = execute(get("media.autocomplete_prefixes"), "optimized")
    assert prefixes
    assert redis_client.exists(AUTOCOMPLETE_KEY) == 0
