"""repeated-http: the same request (method and whole URL) made several times in one scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from djperf._format import duration as shown
from djperf.detect._work import (
    Repetition,
    by_request,
    in_test_code,
    judge,
    severity,
    test_driven,
)
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix
from djperf.record.events import HttpCall
from djperf.record.scope import Recording

rule = Rule(__name__, reads=("http_calls",), count=3, warn_from=2)


@rule.detects
def repeated_http(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """The same request (method and whole URL) made several times in one
    request (or one call from test code)."""
    for unit in by_request(recording.http_calls, lambda call: call.request):
        groups: dict[tuple[str, int], list[HttpCall]] = defaultdict(list)
        for call in unit:
            groups[(call.method, call.url_key)].append(call)
        for group in groups.values():
            repetition = judge(group, thresholds["count"], lambda call: call.drive)
            if repetition is not None:
                yield _same_request(repetition, thresholds["warn_from"])


def _same_request(repetition: Repetition[HttpCall], warn_from: int) -> Finding:
    calls = repetition.events
    method = calls[0].method
    duration = sum(c.duration for c in calls[1:])
    tests = repetition.driven_by_tests
    message = (
        f"{method} {calls[0].url} was requested {len(calls)} times with the same URL "
        f"(the repeats cost {shown(duration)}): make it once and reuse the "
        f"response, or ask the endpoint for everything in one batched call."
    )
    location = calls[0].location
    if tests:
        message += test_driven(repetition, "request")
        location = repetition.test_line or location
    return rule.finding(
        message=message,
        severity=severity(len(calls) - 1, warn_from, driven_by_tests=tests),
        count=len(calls),
        location=location,
        fix=Fix("reuse", None, "response = session.get(url, timeout=...)  # once, then reuse"),
        duration=duration,
        in_tests=tests or in_test_code(location),
    )
