"""cache-in-loop, and the cache and Redis hooks it reads."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

import djperf
from tests.detect.conftest import line, of

HERE = __file__


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


# -- the hooks -------------------------------------------------------------------------


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


# -- cache-in-loop: must flag --------------------------------------------------------------


def test_get_in_a_loop():
    with djperf.capture() as rec:
        for number in range(6):
            cache.get(f"user:{number}")  # get-in-loop
    [finding] = of(rec, "cache-in-loop")
    assert (finding.count, finding.fix.method) == (6, "get_many")
    assert str(finding.location) == line(HERE, "get-in-loop")


def test_set_in_a_loop():
    with djperf.capture() as rec:
        for number in range(6):
            cache.set(f"user:{number}", number)
    [finding] = of(rec, "cache-in-loop")
    assert finding.fix.method == "set_many"


def test_redis_command_in_a_loop(redis_client):
    with djperf.capture() as rec:
        for number in range(6):
            redis_client.zadd("djperf-test:prefixes", {f"p{number}": 0})
    [finding] = of(rec, "cache-in-loop")
    assert finding.fix.method == "pipeline"
    assert "pipeline" in finding.fix.text


@pytest.mark.parametrize(
    ("command", "method", "text"),
    [
        ("delete", "delete", "redis.delete(*keys)"),
        ("get", "mget", "redis.mget(keys)"),
        ("hget", "pipeline", "pipe.hget(...) per item"),
        ("set", "pipeline", "pipe.set(...) per item"),
        ("incr", "pipeline", "pipe.incrby(...) per item"),
    ],
)
def test_redis_fix_names_the_redis_py_call(redis_client, command, method, text):
    with djperf.capture() as rec:
        for number in range(6):
            if command == "hget":
                redis_client.hget(f"djperf-test:h{number}", "field")
            elif command == "set":
                redis_client.set(f"djperf-test:k{number}", 1, ex=60)
            else:
                getattr(redis_client, command)(f"djperf-test:k{number}")
    redis_client.delete(*[f"djperf-test:k{number}" for number in range(6)])
    [finding] = of(rec, "cache-in-loop")
    assert finding.fix.method == method
    assert text in finding.fix.text


@pytest.mark.parametrize(
    ("call", "method", "text"),
    [
        (lambda n: cache.incr("hits", n), "set_many", "add up the changes in Python"),
        (lambda n: cache.get_or_set(f"user:{n}", n), "get_many", "set_many"),
        (lambda n: cache.delete(f"user:{n}"), "delete_many", "cache.delete_many(keys)"),
        (lambda n: cache.clear(), "clear", "once, outside the loop"),
    ],
    ids=["incr", "get_or_set", "delete", "clear"],
)
def test_django_cache_fix_per_command(call, method, text):
    cache.set("hits", 0)
    with djperf.capture() as rec:
        for number in range(6):
            call(number)
    findings = [f for f in of(rec, "cache-in-loop") if f.fix.method == method]
    assert len(findings) == 1
    assert text in findings[0].fix.text


def test_fragment_cache_in_a_template_loop():
    from django.template import Context, Template

    template = Template(
        "{% load cache %}{% for n in numbers %}{% cache 60 row n %}{{ n }}{% endcache %}"
        "{% endfor %}"
    )
    with djperf.capture() as rec:
        template.render(Context({"numbers": range(6)}))
    findings = of(rec, "cache-in-loop")
    assert len(findings) == 2  # a get per item, and a set per item on the first render
    assert all("{% cache %}" in finding.fix.text for finding in findings)


def test_aget_in_a_loop():
    async def work():
        for number in range(6):
            await cache.aget(f"user:{number}")

    with djperf.capture() as rec:
        async_to_sync(work)()
    assert len(of(rec, "cache-in-loop")) == 1


# -- cache-in-loop: must not flag -------------------------------------------------------


def test_get_many_is_one_call():
    with djperf.capture() as rec:
        cache.get_many([f"user:{n}" for n in range(50)])
    assert rec.findings == []


def test_aget_many_is_one_call():
    with djperf.capture() as rec:
        async_to_sync(cache.aget_many)([f"user:{n}" for n in range(50)])
    assert rec.findings == []


def test_a_pipeline_is_one_call(redis_client):
    with djperf.capture() as rec, redis_client.pipeline() as pipe:
        for number in range(50):
            pipe.zadd("djperf-test:prefixes", {f"p{number}": 0})
        pipe.execute()
    assert rec.findings == []


def test_a_redis_scan_is_cursor_iteration(redis_client):
    for number in range(20):
        redis_client.set(f"djperf-test:scan{number}", 1)
    try:
        with djperf.capture() as rec:
            keys = list(redis_client.scan_iter("djperf-test:scan*", count=2))
    finally:
        redis_client.delete(*[f"djperf-test:scan{number}" for number in range(20)])
    assert len(keys) == 20
    assert len([c for c in rec.cache_calls if c.command == "SCAN"]) >= 5
    assert rec.findings == []


def test_calls_from_different_lines():
    with djperf.capture() as rec:
        cache.get("a")
        cache.get("b")
        cache.get("c")
        cache.get("d")
        cache.get("e")
    assert rec.findings == []


def test_below_the_threshold():
    with djperf.capture() as rec:
        for number in range(4):
            cache.get(f"user:{number}")
    assert rec.findings == []


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
