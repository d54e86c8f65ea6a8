"""cache-in-loop: many cache or Redis round trips from one line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from djperf.detect.findings import Finding, Fix
from djperf.detect.registry import register
from djperf.record.events import CacheCall, Location
from djperf.record.recorder import Recording

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


@register("cache-in-loop", count=5)
def cache_in_loop(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """Many cache or Redis commands from one line, one round trip each."""
    groups: dict[tuple[Location | None, str, str], list[CacheCall]] = defaultdict(list)
    for call in recording.cache_calls:
        if call.location is None or call.command == "pipeline":
            continue
        if call.backend == "redis" and call.command in _REDIS_NOT_BATCHABLE:
            continue
        groups[(call.location, call.backend, call.command)].append(call)
    for (location, backend, command), calls in groups.items():
        if len(calls) < thresholds["count"]:
            continue
        if backend == "redis":
            method, text = _redis_fix(command)
        elif (
            location is not None and not location.path.endswith(".py") and command in ("get", "set")
        ):
            # A {% cache %} tag inside a {% for %}: one fragment per item.
            method, text = (
                "get_many",
                "wrap the whole {% for %} in one {% cache %} fragment, or fetch the "
                "fragments in the view with cache.get_many()",
            )
        else:
            method, text = _cache_fix(command)
        duration = sum(c.duration for c in calls)
        yield Finding(
            rule="cache-in-loop",
            message=(
                f"{len(calls)} {backend} {command} calls from one line, one round trip each "
                f"({duration * 1000:.1f} ms): send them together. {text}"
            ),
            severity="warning",
            count=len(calls),
            location=location,
            fix=Fix(method, None, text),
            duration=duration,
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
