"""Slow and optimized scenarios of the users app (seed 001, async queries and the cache)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache

from accounts.seed import shopper_username
from shopsite.pages import fetch_json
from shopsite.scenarios import Scenario, register

SEED_001 = "001 async queries guide"

# Who the profile page asks for: a dozen shoppers (the seed has at least 20)
# and one name nobody has, which both versions skip.
USERNAMES = [*(shopper_username(i) for i in range(1, 13)), "nobody-by-that-name"]
# The cached lookup asks for some users twice, as a feed of posts would.
FEED = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7]


def profiles_slow() -> Any:
    return fetch_json("users:profiles-slow", query={"usernames": USERNAMES})


def profiles_optimized() -> Any:
    return fetch_json("users:profiles", query={"usernames": USERNAMES})


def _feed_ids() -> list[str]:
    # The feed names shoppers by number; both versions look their ids up the
    # same way (one query), so the difference left is the cache pattern.
    usernames = [shopper_username(number) for number in FEED]
    ids = dict(User.objects.filter(username__in=usernames).values_list("username", "pk"))
    return [str(ids[username]) for username in usernames]


def cached_slow() -> Any:
    return fetch_json("users:cached-slow", query={"ids": _feed_ids()})


def cached_optimized() -> Any:
    return fetch_json("users:cached", query={"ids": _feed_ids()})


@contextlib.contextmanager
def cold_cache() -> Iterator[None]:
    """Both versions start with an empty cache, and leave none behind."""
    cache.clear()
    try:
        yield
    finally:
        cache.clear()


register(
    Scenario(
        name="users.profiles_by_username",
        title="Profiles by username in an async view: aget() per name vs one async for",
        slow=profiles_slow,
        optimized=profiles_optimized,
        source=f"{SEED_001}: get_user_profiles(request) with "
        "User.objects.filter(username__in=usernames)",
        tags=frozenset({"repeated-query"}),
    )
)
register(
    Scenario(
        name="users.cached_profiles",
        title="Cached profiles: cache.get/aget/cache.set per id vs get_many + one query + set_many",
        slow=cached_slow,
        optimized=cached_optimized,
        setup=cold_cache,
        source=f"{SEED_001}: get_cached_user_profile(user_id), 'Combine Async and Caching'",
        tags=frozenset({"repeated-query", "cache-in-loop"}),
    )
)
