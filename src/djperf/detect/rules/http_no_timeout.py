"""http-no-timeout: an outbound HTTP call with nothing bounding how long it may wait."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix, Location
from djperf.record.events import HttpCall
from djperf.record.scope import Recording

_TIMEOUT_FIX = {
    "requests": "requests.get(url, timeout=(3.05, 10))",
    "httpx": "httpx.Client(timeout=10.0)  # or the request's timeout=",
    "urllib3": "urllib3.PoolManager(timeout=urllib3.Timeout(connect=3.0, read=10.0))",
    "urllib": "urllib.request.urlopen(url, timeout=10)",
}


rule = Rule(__name__, reads=("http_calls",), count=1)


@rule.detects
def http_no_timeout(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
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
        yield rule.finding(
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
