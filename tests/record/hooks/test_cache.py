"""The cache hook: Django's cache API and Redis round trips, as recorded."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

import djperf

pytestmark = pytest.mark.usefixtures("empty_cache")


def test_django_cache_calls_are_recorded():
    with djperf.capture() as rec:
        cache.set("a", 1)
        cache.get("a")
        cache.get_many(["a", "b", "c"])
        cache.get_or_set("d", 4)
    assert [(c.backend, c.command, c.keys) for c in rec.cache_calls] == [
        ("cache:default", "set", 1),
        ("cache:default", "get", 1),
        ("cache:default", "get_many", 3),
        ("cache:default", "get_or_set", 1),
    ]


def test_async_cache_calls_are_recorded_once():
    async def work():
        await cache.aset("a", 1)
        await cache.aget_many(["a", "b"])
        return await cache.aget("a")

    with djperf.capture() as rec:
        assert async_to_sync(work)() == 1
    assert [(c.command, c.keys) for c in rec.cache_calls] == [
        ("set", 1),
        ("get_many", 2),
        ("get", 1),
    ]


def test_cache_behaves_the_same_under_capture():
    async def work():
        await cache.aset_many({"x": 1, "y": 2})
        return await cache.aget_many(["x", "y", "z"])

    expected = async_to_sync(work)()
    with djperf.capture():
        assert async_to_sync(work)() == expected == {"x": 1, "y": 2}


def test_redis_commands_and_pipelines(redis_client):
    with djperf.capture() as rec:
        redis_client.set("djperf-test:a", 1)
        with redis_client.pipeline() as pipe:
            pipe.get("djperf-test:a")
            pipe.get("djperf-test:b")
            pipe.execute()
    assert [(c.backend, c.command, c.keys) for c in rec.cache_calls] == [
        ("redis", "SET", 1),
        ("redis", "pipeline", 2),
    ]


def test_djangos_cache_methods_are_left_intact():
    import inspect

    from django.core.cache.backends.locmem import LocMemCache

    async def work():
        await cache.aset("a", 1)
        return await cache.aget_many(["a"])

    with djperf.capture():
        async_to_sync(work)()
    # asgiref marks the __func__ of what it wraps: it must never reach Django's.
    assert not inspect.iscoroutinefunction(LocMemCache.get)
    assert not inspect.iscoroutinefunction(LocMemCache.set)
    assert async_to_sync(work)() == {"a": 1}
