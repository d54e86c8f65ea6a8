"""Slow and optimized scenarios of the media app (seed 004, Redis autocomplete)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from django.conf import settings
from redis import Redis
from redis.exceptions import RedisError

from media.autocomplete import (
    autocomplete_prefixes,
    update_autocomplete_prefixes,
    update_autocomplete_prefixes_slow,
)
from shopsite.scenarios import Scenario, ScenarioUnavailable, register

# A key of this process only, so runs on a shared Redis never see each other's
# prefixes; deleted after every run.
AUTOCOMPLETE_KEY = f"djperf-shop:{uuid.uuid4().hex[:12]}:autocomplete"


def _redis() -> Redis:
    return Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=10)


@contextlib.contextmanager
def redis_available() -> Iterator[None]:
    redis = _redis()
    try:
        redis.ping()
    except (RedisError, OSError) as error:
        redis.close()
        raise ScenarioUnavailable(f"no Redis at {settings.REDIS_URL} ({error})") from None
    try:
        yield
    finally:
        redis.delete(AUTOCOMPLETE_KEY)
        redis.close()


def prefixes_slow() -> None:
    with _redis() as redis:
        update_autocomplete_prefixes_slow(redis, AUTOCOMPLETE_KEY)


def prefixes_optimized() -> None:
    with _redis() as redis:
        update_autocomplete_prefixes(redis, AUTOCOMPLETE_KEY)


def prefixes_outcome() -> list[str]:
    with _redis() as redis:
        return autocomplete_prefixes(redis, AUTOCOMPLETE_KEY)


register(
    Scenario(
        name="media.autocomplete_prefixes",
        title="Autocomplete prefixes to Redis: one ZADD per prefix vs one ZADD in all",
        slow=prefixes_slow,
        optimized=prefixes_optimized,
        metric="redis_commands",
        outcome=prefixes_outcome,
        setup=redis_available,
        source="004 optimized Django blog: 'Optimizing Redis access' "
        "(Trim(Lower('title')), one dict of prefixes, DELETE + one ZADD)",
        tags=frozenset({"cache-in-loop"}),
    )
)
