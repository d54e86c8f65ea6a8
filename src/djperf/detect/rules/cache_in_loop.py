"""cache-in-loop: many cache or Redis round trips from one line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from djperf._format import duration as shown
from djperf.detect._loops import described, repeating_loop
from djperf.detect._source import in_a_loop
from djperf.detect._work import (
    Repetition,
    by_request,
    in_test_code,
    judge,
    severity,
    test_driven,
)
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix, Location
from djperf.record.events import CacheCall
from djperf.record.scope import Recording

rule = Rule(__name__, reads=("cache_calls",), count=5, warn_from=2)

# Django's cache API: one key per call -> the call that takes many.
_BATCHED = {
    "get": ("get_many", "cache.get_many(keys)"),
    "set": ("set_many", "cache.set_many({key: value, ...}, timeout)"),
    "add": ("set_many", "cache.set_many({key: value, ...}, timeout)"),
    "delete": ("delete_many", "cache.delete_many(keys)"),
    "has_key": ("get_many", "cache.get_many(keys)  # the keys it returns exist"),
    "get_or_set": (
        "get_many",
        "found = cache.get_many(keys), then cache.set_many({the missing keys: values})",
    ),
    "incr": ("set_many", "add up the changes in Python, then cache.set_many(totals)"),
    "decr": ("set_many", "add up the changes in Python, then cache.set_many(totals)"),
    "get_many": ("get_many", "one cache.get_many() with every key"),
    "set_many": ("set_many", "one cache.set_many() with every item"),
    "delete_many": ("delete_many", "one cache.delete_many() with every key"),
    "touch": ("pipeline", "a Redis pipeline, or set_many() with the new timeout"),
    "clear": ("clear", "call cache.clear() once, outside the loop"),
}

# Redis commands that take many keys in one. Not SET: MSET cannot set an
# expiry, so SET goes through a pipeline.
_REDIS_MULTI = {
    "GET": ("mget", "redis.mget(keys)"),
    "DEL": ("delete", "redis.delete(*keys)"),
    "UNLINK": ("unlink", "redis.unlink(*keys)"),
    "EXISTS": ("exists", "redis.exists(*keys)  # counts the ones that exist"),
    "SADD": ("sadd", "redis.sadd(name, *values)"),
    "SREM": ("srem", "redis.srem(name, *values)"),
    "LPUSH": ("lpush", "redis.lpush(name, *values)"),
    "RPUSH": ("rpush", "redis.rpush(name, *values)"),
}
# redis-py names for commands whose method is not the lower-cased command.
_REDIS_METHODS = {"DEL": "delete"}
# Cursor iteration (scan_iter) and transactions: one call per step by design.
_REDIS_NOT_BATCHABLE = frozenset(
    {"SCAN", "SSCAN", "HSCAN", "ZSCAN", "MULTI", "EXEC", "WATCH", "UNWATCH", "DISCARD"}
)


@rule.detects
def cache_in_loop(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """Many cache or Redis commands from one line, one round trip each, in one
    request (or one call from test code)."""
    calls = [
        call
        for call in recording.cache_calls
        if call.location is not None
        and call.command != "pipeline"
        and not (call.backend == "redis" and call.command in _REDIS_NOT_BATCHABLE)
    ]
    for unit in by_request(calls, lambda call: call.request):
        groups: dict[tuple[Location | None, str, str], list[CacheCall]] = defaultdict(list)
        for call in unit:
            groups[(call.location, call.backend, call.command)].append(call)
        for (location, backend, command), group in groups.items():
            repetition = judge(
                group,
                thresholds["count"],
                lambda call: call.drive,
                library_call_of=lambda call: call.library_call,
            )
            if repetition is not None:
                yield _round_trip_each(
                    repetition, location, backend, command, thresholds["warn_from"]
                )


def _round_trip_each(
    repetition: Repetition[CacheCall],
    location: Location | None,
    backend: str,
    command: str,
    warn_from: int,
) -> Finding:
    calls = repetition.events
    via = calls[0].via
    if via is not None and not (backend == "redis" and via == "redis"):
        # A third-party package's commands (sorl-thumbnail's cache lookups),
        # one call of it per item: no batch reaches inside it. (redis-py's
        # own methods are the client, not a package using it.)
        method, text = (
            "call_once",
            f"the {command} calls are {via}'s, one per call at {location}: keep what the "
            "call returns and reuse it, or call it once for all the items",
        )
    elif backend == "redis":
        method, text = _redis_fix(command)
    elif location is not None and not location.path.endswith(".py") and command in ("get", "set"):
        # A {% cache %} tag inside a {% for %}: one fragment per item.
        method, text = (
            "get_many",
            "wrap the whole {% for %} in one {% cache %} fragment, or fetch the "
            "fragments in the view with cache.get_many()",
        )
    else:
        method, text = _cache_fix(command)
        text = _in_the_calling_loop(text, calls, location)
    duration = sum(c.duration for c in calls)
    tests = repetition.driven_by_tests
    message = (
        f"{len(calls)} {backend} {command} calls from one line, one round trip each "
        f"({shown(duration)}): send them together. {text}"
    )
    fix: Fix | None = Fix(method, None, text)
    if tests:
        message = (
            f"{len(calls)} {backend} {command} calls at {location}, one per call "
            f"({shown(duration)})." + test_driven(repetition, "command")
        )
        if not in_test_code(location):
            fix = None
        location = repetition.test_line or location
    return rule.finding(
        message=message,
        severity=severity(len(calls) - 1, warn_from, driven_by_tests=tests),
        count=len(calls),
        location=location,
        fix=fix,
        duration=duration,
        in_tests=tests or in_test_code(location),
    )


def _in_the_calling_loop(text: str, calls: list[CacheCall], location: Location | None) -> str:
    """A line that makes one call per call of its function (a model's
    get_absolute_url() reading its cached slug, run per node of a tree)
    cannot batch by itself: the keys meet in the loop that repeats the
    calls, which the fix names, however many calls out it is."""
    if location is None or in_a_loop(location) is not False:
        return text
    loop = repeating_loop(calls)
    if loop is None or loop.depth == 0:
        return text
    return (
        f"{text}  # {location.function}() makes one call per call of it, and "
        f"{described(loop, location)} repeats the calls: collect the keys in that loop and "
        "make this one call before it (or after it, for writes), handing the values down"
    )


def _cache_fix(command: str) -> tuple[str, str]:
    return _BATCHED.get(command, ("pipeline", f"batch the {command}() calls"))


def _redis_fix(command: str) -> tuple[str, str]:
    if command in _REDIS_MULTI:
        return _REDIS_MULTI[command]
    name = _REDIS_METHODS.get(command, command.lower().replace(" ", "_"))
    return (
        "pipeline",
        f"with redis.pipeline() as pipe: pipe.{name}(...) per item, then pipe.execute()",
    )
