"""Async profile views and the profile cache (seed 001)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.seed import shopper_username
from users.profiles import cache_key, cached_profiles, cached_profiles_slow


@pytest.fixture
def cold_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def test_profile_view(seeded: dict[str, int], client: Client) -> None:
    response = client.get(reverse("users:profile", args=[shopper_username(1)]))
    assert response.status_code == 200
    assert response.json()["username"] == shopper_username(1)
    assert client.get(reverse("users:profile", args=["nobody"])).status_code == 404


@pytest.mark.parametrize("url_name", ["users:profiles", "users:profiles-slow"])
def test_profiles_in_the_order_asked(seeded: dict[str, int], client: Client, url_name: str) -> None:
    usernames = [shopper_username(3), "nobody", shopper_username(1)]
    response = client.get(reverse(url_name), {"usernames": usernames})
    assert [profile["username"] for profile in response.json()] == [usernames[0], usernames[2]]


@pytest.mark.parametrize("load", [cached_profiles, cached_profiles_slow])
def test_second_lookup_is_served_by_the_cache(
    seeded: dict[str, int], cold_cache: None, load: object
) -> None:
    ids = list(User.objects.filter(username__startswith="shopper").values_list("pk", flat=True)[:5])
    ids += [ids[0], 0]  # a repeat, and an id nobody has
    first = async_to_sync(load)(ids)  # type: ignore[arg-type]
    assert [profile["id"] for profile in first] == ids[:-1]
    assert cache.get(cache_key(ids[0])) is not None
    with CaptureQueriesContext(connection) as captured:
        second = async_to_sync(load)(ids[:-1])  # type: ignore[arg-type]
    assert second == first
    assert len(captured) == 0
