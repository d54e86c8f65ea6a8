"""sequential-http: outbound calls of one thread or task that ran one after another."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from djperf._format import duration as shown
from djperf.detect._work import Repetition, by_request, in_test_code, judge, test_driven
from djperf.detect.registry import Rule, Thresholds
from djperf.findings import Finding, Fix
from djperf.record.events import HttpCall
from djperf.record.scope import Recording

rule = Rule(__name__, reads=("http_calls",), count=2, saving=0.05)


@rule.detects
def sequential_http(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
    """Calls of one thread or task that ran one after another and could overlap.

    Reported when the calls of a run would save ``saving`` seconds (default
    0.05) by overlapping. A call that needs the previous one's answer cannot
    overlap it: read the finding with that in mind.
    """
    for unit in by_request(recording.http_calls, lambda call: call.request):
        by_task: dict[int, list[HttpCall]] = defaultdict(list)
        for call in unit:
            by_task[call.task].append(call)
        for calls in by_task.values():
            calls.sort(key=lambda c: c.started)
            run: list[HttpCall] = []
            for call in calls:
                if run and call.started < run[-1].started + run[-1].duration:
                    continue  # overlaps the previous call: they already ran together
                run.append(call)
            repetition = judge(run, thresholds["count"], lambda call: call.drive)
            if repetition is not None:
                yield from _one_after_another(repetition, thresholds["saving"])


def _one_after_another(repetition: Repetition[HttpCall], saving: float) -> Iterable[Finding]:
    run = repetition.events
    in_sequence = sum(c.duration for c in run)
    together = max(c.duration for c in run)
    if in_sequence - together < saving:
        return
    asynchronous = all(c.asynchronous for c in run)
    text = (
        "results = await asyncio.gather(*(fetch(url) for url in urls))"
        if asynchronous
        else "with ThreadPoolExecutor() as pool: results = list(pool.map(fetch, urls))"
    )
    lines = sorted({str(c.location) for c in run if c.location is not None})
    tests = repetition.driven_by_tests
    message = (
        f"{len(run)} HTTP calls ran one after another: {shown(in_sequence)} in "
        f"sequence, about {shown(together)} if they overlapped "
        f"({', '.join(lines) or 'lines unknown'}). Run them together: {text}"
    )
    location = run[0].location
    if tests:
        message += test_driven(repetition, "call")
        location = repetition.test_line or location
    yield rule.finding(
        message=message,
        severity="info" if tests else "warning",
        count=len(run),
        location=location,
        fix=Fix("gather", None, text),
        duration=in_sequence - together,
        in_tests=tests or in_test_code(location),
    )
