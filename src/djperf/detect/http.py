"""Rules about outbound HTTP: http-no-timeout, sequential-http, repeated-http."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from djperf.detect.findings import Finding, Fix
from djperf.detect.registry import register
from djperf.record.events import HttpCall, Location
from djperf.record.recorder import Recording

_TIMEOUT_FIX = {
    "requests": "requests.get(url, timeout=(3.05, 10))",
    "httpx": "httpx.Client(timeout=10.0)  # or the request's timeout=",
    "urllib3": "urllib3.PoolManager(timeout=urllib3.Timeout(connect=3.0, read=10.0))",
    "urllib": "urllib.request.urlopen(url, timeout=10)",
}


@register("http-no-timeout", count=1)
def http_no_timeout(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """An outbound HTTP call with nothing bounding how long it may wait."""
    groups: dict[tuple[Location | None, str, str], list[HttpCall]] = defaultdict(list)
    for call in recording.http_calls:
        if call.timeout is None:
            groups[(call.location, call.library, call.method)].append(call)
    for (location, library, method), calls in groups.items():
        if len(calls) < thresholds["count"]:
            continue
        fix = Fix("timeout", None, _TIMEOUT_FIX.get(library, "pass timeout=..."))
        duration = sum(c.duration for c in calls)
        yield Finding(
            rule="http-no-timeout",
            message=(
                f"{library} {method} {calls[0].url} has no timeout ({len(calls)} call"
                f"{'s' if len(calls) > 1 else ''}): a slow upstream would hang this code "
                f"indefinitely. Pass one: {fix.text}"
            ),
            severity="warning",
            count=len(calls),
            location=location,
            fix=fix,
            duration=duration,
        )


@register("sequential-http", count=2, saving=0.05)
def sequential_http(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """Calls of one thread or task that ran one after another and could overlap.

    Reported when the calls of a run would save ``saving`` seconds (default
    0.05) by overlapping. A call that needs the previous one's answer cannot
    overlap it: read the finding with that in mind.
    """
    by_task: dict[int, list[HttpCall]] = defaultdict(list)
    for call in recording.http_calls:
        by_task[call.task].append(call)
    for calls in by_task.values():
        calls.sort(key=lambda c: c.started)
        run: list[HttpCall] = []
        for call in calls:
            if run and call.started < run[-1].started + run[-1].duration:
                continue  # overlaps the previous call: they already ran together
            run.append(call)
        if len(run) < thresholds["count"]:
            continue
        in_sequence = sum(c.duration for c in run)
        together = max(c.duration for c in run)
        if in_sequence - together < thresholds["saving"]:
            continue
        asynchronous = all(c.asynchronous for c in run)
        text = (
            "results = await asyncio.gather(*(fetch(url) for url in urls))"
            if asynchronous
            else "with ThreadPoolExecutor() as pool: results = list(pool.map(fetch, urls))"
        )
        lines = sorted({str(c.location) for c in run if c.location is not None})
        yield Finding(
            rule="sequential-http",
            message=(
                f"{len(run)} HTTP calls ran one after another: {in_sequence * 1000:.0f} ms in "
                f"sequence, about {together * 1000:.0f} ms if they overlapped "
                f"({', '.join(lines) or 'lines unknown'}). Run them together: {text}"
            ),
            severity="warning",
            count=len(run),
            location=run[0].location,
            fix=Fix("gather", None, text),
            duration=in_sequence - together,
        )


@register("repeated-http", count=3)
def repeated_http(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
    """The same request (method and whole URL) made several times in one scope."""
    groups: dict[tuple[str, int], list[HttpCall]] = defaultdict(list)
    for call in recording.http_calls:
        groups[(call.method, call.url_key)].append(call)
    for (method, _), calls in groups.items():
        if len(calls) < thresholds["count"]:
            continue
        duration = sum(c.duration for c in calls[1:])
        yield Finding(
            rule="repeated-http",
            message=(
                f"{method} {calls[0].url} was requested {len(calls)} times with the same URL "
                f"(the repeats cost {duration * 1000:.0f} ms): make it once and reuse the "
                f"response, or ask the endpoint for everything in one batched call."
            ),
            severity="warning",
            count=len(calls),
            location=calls[0].location,
            fix=Fix("reuse", None, "response = session.get(url, timeout=...)  # once, then reuse"),
            duration=duration,
        )
