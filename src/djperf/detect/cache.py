"""cache-in-loop: many cache or Redis round trips from one line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from djperf.detect.findings import Finding, Fix
from djperf.detect.registry import register
from djperf.record.events import CacheCall, Location
from djperf.record.recorder import Recording

# One key per call -> the call that takes many.
_BATCHED = {
    "get": ("get_many", "cache.get_many(keys)"),
    "set": ("set_many", "cache.set_many({key: value, ...}, timeout)"),
    "add": ("set_many", "cache.set_many({key: value, ...}, timeout)"),
    "delete": ("delete_many", "cache.delete_many(keys)"),
    "has_key": ("get_many", "cache.get_many(keys)  # the keys it returns exist"),
    "touch": ("pipeline", "one pipeline: with redis.pipeline() as pipe: ... pipe.execute()"),
}


@register("cache-in-loop", count=5)
def cache_in_loop(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """Many cache or Redis commands from one line, one round trip each."""
    groups: dict[tuple[Location | None, str, str], list[CacheCall]] = defaultdict(list)
    for call in recording.cache_calls:
        if call.location is not None and call.command != "pipeline":
            groups[(call.location, call.backend, call.command)].append(call)
    for (location, backend, command), calls in groups.items():
        if len(calls) < thresholds["count"]:
            continue
        if backend == "redis":
            method, text = (
                "pipeline",
                (f"pipe = redis.pipeline(); pipe.{command.lower()}(...) per key; pipe.execute()"),
            )
        else:
            method, text = _BATCHED.get(command, ("get_many", "cache.get_many(keys)"))
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
