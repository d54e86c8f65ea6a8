"""cache-in-loop: many cache or Redis round trips from one line."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

import djperf
from tests.helpers import line, of

pytestmark = pytest.mark.usefixtures("empty_cache")

HERE = __file__


# -- must flag -----------------------------------------------------------------------------


def test_get_in_a_loop():
    with djperf.capture() as rec:
        for number in range(6):
            cache.get(f"user:{number}")  # get-in-loop
    [finding] = of(rec, "cache-in-loop")
    assert (finding.count, finding.fix.method) == (6, "get_many")
    assert str(finding.location) == line(HERE, "get-in-loop")


def _slug_of(number):
    return cache.get(f"slug:{number}")  # per-call-get


def _url_of(number):
    return f"/c/{_slug_of(number)}/"  # url-call


def test_a_get_two_calls_from_its_loop_names_that_loop():
    with djperf.capture() as rec:
        # (A for statement: a comprehension is a frame of its own before
        # Python 3.12, and no frame after it.)
        urls = []
        for number in range(6):
            urls.append(_url_of(number))  # tree-loop
    assert len(urls) == 6
    [finding] = of(rec, "cache-in-loop")
    assert str(finding.location) == line(HERE, "per-call-get")
    # get_many() at the line itself would still get one key per call.
    assert finding.fix.text == (
        "cache.get_many(keys)  # _slug_of() makes one call per call of it, and the loop at "
        f"{line(HERE, 'tree-loop')} in test_a_get_two_calls_from_its_loop_names_that_loop(), "
        f"2 calls out from {line(HERE, 'per-call-get')} (through "
        f"_url_of() at {line(HERE, 'url-call')}) repeats the calls: collect the keys in that "
        "loop and make this one call before it (or after it, for writes), handing the values "
        "down"
    )


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


def test_a_cache_get_per_call_of_a_test_loop_is_the_tests():
    from tests import as_tests

    with djperf.capture() as rec:
        as_tests.call_each(lambda n: cache.get(f"user:{n}"), range(6))  # cached-read
    [finding] = of(rec, "cache-in-loop")
    assert finding.in_tests and finding.severity == "info"
    assert str(finding.location) == line("tests/as_tests.py", "the-test-loop")
    # The get is on this file's line, which is the application's: no bulk form fits it.
    assert finding.fix is None


# -- must not flag -------------------------------------------------------------------------


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


# The fixes the findings above suggest, applied: one round trip each.


@pytest.mark.parametrize(
    ("fix", "commands"),
    [
        ("delete", ["DEL"]),
        ("mget", ["MGET"]),
        ("hget", ["pipeline"]),
        ("set", ["pipeline"]),
        ("incrby", ["pipeline"]),
    ],
)
def test_the_redis_fix_is_not_flagged(redis_client, fix, commands):
    keys = [f"djperf-test:k{number}" for number in range(6)]
    with djperf.capture() as rec:
        if fix == "delete":
            redis_client.delete(*keys)
        elif fix == "mget":
            redis_client.mget(keys)
        else:
            with redis_client.pipeline() as pipe:
                for key in keys:
                    if fix == "hget":
                        pipe.hget(key, "field")
                    elif fix == "set":
                        pipe.set(key, 1, ex=60)
                    else:
                        pipe.incrby(key, 1)
                pipe.execute()
    assert [(c.backend, c.command) for c in rec.cache_calls] == [("redis", c) for c in commands]
    assert of(rec, "cache-in-loop") == []


def _set_many(keys):
    cache.set_many({key: number for number, key in enumerate(keys)})


def _add_up_then_set_many(keys):
    cache.set_many({"hits": cache.get("hits") + sum(range(len(keys)))})


def _get_many_then_set_the_missing(keys):
    found = cache.get_many(keys)
    cache.set_many({key: number for number, key in enumerate(keys) if key not in found})


def _delete_many(keys):
    cache.delete_many(keys)


def _clear_once(keys):
    cache.clear()


@pytest.mark.parametrize(
    ("fix", "commands"),
    [
        (_set_many, ["set_many"]),
        (_add_up_then_set_many, ["get", "set_many"]),
        (_get_many_then_set_the_missing, ["get_many", "set_many"]),
        (_delete_many, ["delete_many"]),
        (_clear_once, ["clear"]),
    ],
    ids=["set", "incr", "get_or_set", "delete", "clear"],
)
def test_the_django_cache_fix_is_not_flagged(fix, commands):
    cache.set("hits", 0)
    with djperf.capture() as rec:
        fix([f"user:{number}" for number in range(6)])
    assert [c.command for c in rec.cache_calls] == commands
    assert of(rec, "cache-in-loop") == []


def test_one_fragment_around_the_whole_loop():
    from django.template import Context, Template

    template = Template(
        "{% load cache %}{% cache 60 rows %}{% for n in numbers %}{{ n }}{% endfor %}{% endcache %}"
    )
    with djperf.capture() as rec:
        html = template.render(Context({"numbers": range(6)}))
    assert html == "012345"
    assert [c.command for c in rec.cache_calls] == ["get", "set"]
    assert of(rec, "cache-in-loop") == []


def test_not_one_cache_read_per_request(client, settings):
    # A view that reads the cache once, requested six times.
    from django.http import HttpResponse
    from django.urls import path

    def menu(request):
        return HttpResponse(cache.get("menu") or "empty")

    class Urls:
        urlpatterns = [path("menu/", menu)]

    settings.ROOT_URLCONF = Urls
    with djperf.capture() as rec:
        for _ in range(6):
            assert client.get("/menu/").status_code == 200
    assert len(rec.cache_calls) == 6 and len({call.request for call in rec.cache_calls}) == 6
    assert of(rec, "cache-in-loop") == []
