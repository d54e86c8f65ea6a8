"""Loading user profiles in async code, with and without the cache (seed 001).

seed 001 ("Boost Your Django App's Speed: The Ultimate Guide to Asynchronous
Queries") awaits the async ORM (aget, afirst, async for) and caches profiles
with get_cached_user_profile(user_id). Async does not make N queries cheaper:
awaiting aget() once per user is still one round trip per user.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache

# seed 001: "Cache for 1 hour".
PROFILE_TIMEOUT = 60 * 60

Profile = dict[str, Any]


def serialize(user: User) -> Profile:
    return {"id": user.pk, "username": user.username, "name": user.get_full_name()}


def cache_key(user_id: int) -> str:
    return f"user_{user_id}"


async def profiles_by_username_slow(usernames: list[str]) -> list[Profile]:
    profiles = []
    for username in usernames:
        try:
            user = await User.objects.aget(username=username)
        except User.DoesNotExist:
            continue
        profiles.append(serialize(user))
    return profiles


async def profiles_by_username(usernames: list[str]) -> list[Profile]:
    # One query for all of them, answered in the order asked.
    found = {user.username: user async for user in User.objects.filter(username__in=usernames)}
    return [serialize(found[username]) for username in usernames if username in found]


async def get_cached_user_profile(user_id: int) -> User | None:
    """seed 001's helper: the cache first, the database on a miss."""
    user = await cache.aget(cache_key(user_id))
    if user is None:
        try:
            user = await User.objects.aget(id=user_id)
        except User.DoesNotExist:
            return None
        await cache.aset(cache_key(user_id), user, timeout=PROFILE_TIMEOUT)
    return user


async def profile_by_username(username: str) -> Profile | None:
    """One profile; afirst() answers None rather than raising DoesNotExist (seed 001)."""
    user = await User.objects.filter(username=username).afirst()
    return None if user is None else serialize(user)


async def cached_profiles_slow(user_ids: list[int]) -> list[Profile]:
    profiles = []
    for user_id in user_ids:
        user = await get_cached_user_profile(user_id)
        if user is not None:
            profiles.append(serialize(user))
    return profiles


async def cached_profiles(user_ids: list[int]) -> list[Profile]:
    # One cache round trip for the hits, one query for all the misses, one
    # cache round trip to store them.
    keys = {user_id: cache_key(user_id) for user_id in user_ids}
    cached = await cache.aget_many(keys.values())
    users = {user_id: cached[key] for user_id, key in keys.items() if key in cached}
    missing = [user_id for user_id in keys if user_id not in users]
    if missing:
        fetched = {user.pk: user async for user in User.objects.filter(pk__in=missing)}
        await cache.aset_many(
            {keys[user_id]: user for user_id, user in fetched.items()}, timeout=PROFILE_TIMEOUT
        )
        users |= fetched
    return [serialize(users[user_id]) for user_id in user_ids if user_id in users]
