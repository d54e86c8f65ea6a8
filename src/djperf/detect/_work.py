"""Repetition judged per unit of work (djperf.record.work).

A repetition rule groups events by what repeats (one relation of one
queryset, one statement shape at one line ...). Before a group is judged:

- it is split by request (or Celery task run): each request is judged on
  its own, so a page a test requests twice shows its own problems once, and
  a lookup every request makes (the session's user) is no duplicate;
- outside requests, by the call from test code that drove each event: a
  problem is the application's when one call from the test repeats the work
  by itself. When only the test's repeated calls repeat it (a loop in the
  test, a fixture saving several objects), the finding is the test's:
  `in_tests`, located at the test's line.

Events djperf could not attribute to a call from test code (no test on the
stack, or a trace function that keeps frames from being marked) count as one
call, as if no test were there.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from djperf.findings import Location, Severity
from djperf.record.stack import is_test_path
from djperf.record.work import Drive

E = TypeVar("E")


def by_request(events: Iterable[E], request_of: Callable[[E], int | None]) -> list[list[E]]:
    """`events` split by the request or task run they belong to; the events
    outside any request come first, as one list."""
    split: dict[int | None, list[E]] = defaultdict(list)
    for event in events:
        split[request_of(event)].append(event)
    return [split[key] for key in sorted(split, key=lambda key: (key is not None, key or 0))]


@dataclass(frozen=True)
class Repetition(Generic[E]):
    """A group's verdict: the events a finding is about, and whose it is."""

    events: list[E]
    # Repeated only because test code called the code several times.
    driven_by_tests: bool
    # The test's line that made the calls (the most common one), if so.
    test_line: Location | None
    # Every test line that made them, the most common first.
    test_lines: tuple[Location, ...] = ()


def judge(
    group: list[E],
    threshold: int,
    drive_of: Callable[[E], Drive | None],
    size: Callable[[list[E]], int] = len,
    *,
    library_call_of: Callable[[E], int | None] | None = None,
) -> Repetition[E] | None:
    """The repetition in `group` (events of one request, or outside requests),
    or None when there is none: `size` of the events of one call from test
    code reaches `threshold` (the application repeats), or only all calls
    together do (the test repeats).

    With `library_call_of`, the events of one call from the user's code into
    a third-party package count once: what the package repeats inside a
    single call (sorl-thumbnail's get_thumbnail() reading and writing its
    key-value store several times) is not the user's to change; the user
    repeating the call is. Rules whose fix is the user's own query
    (n-plus-one: the queryset a serializer walks) do not pass it."""
    if library_call_of is not None:
        size = _counting_library_calls_once(library_call_of)
    calls: dict[object, list[E]] = defaultdict(list)
    for event in group:
        drive = drive_of(event)
        calls[drive.serial if drive is not None and drive.serial is not None else None].append(
            event
        )
    # Each call from test code is a unit of work of its own, like a request:
    # the finding is the worst one's, never the sum of several (two calls
    # repeating a query twice each are two repeats of one, not three).
    repeating = [events for events in calls.values() if size(events) >= threshold]
    if repeating:
        return Repetition(max(repeating, key=size), False, None)
    if len(calls) < 2 or size(group) < threshold:
        return None
    lines = Counter(drive.location for event in group if (drive := drive_of(event)) is not None)
    ranked = tuple(line for line, _ in lines.most_common())
    return Repetition(group, True, ranked[0] if ranked else None, ranked)


def _counting_library_calls_once(
    library_call_of: Callable[[E], int | None],
) -> Callable[[list[E]], int]:
    def size(events: list[E]) -> int:
        outside = 0
        calls = set()
        for event in events:
            call = library_call_of(event)
            if call is None:
                outside += 1
            else:
                calls.add(call)
        return outside + len(calls)

    return size


def in_test_code(location: Location | None) -> bool:
    """Whether `location` is a line of test code (DJPERF["TEST_PATHS"])."""
    return location is not None and is_test_path(location.path)


def test_driven(repetition: Repetition[E], what: str) -> str:
    """The sentence a test-driven finding's message ends with."""
    lines = repetition.test_lines or (
        (repetition.test_line,) if repetition.test_line is not None else ()
    )
    where = ""
    if lines:
        shown = ", ".join(str(line) for line in lines[:3])
        more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
        where = f" at {shown}{more}"
    return (
        f" Each {what} came from a separate call made by test code{where}: the test "
        f"repeats the call; no single call repeats the work enough to be the "
        f"application's."
    )


def severity(saved: int, warn_from: int, *, driven_by_tests: bool = False) -> Severity:
    """A finding's severity by what fixing it saves: "warning" from
    `warn_from` round trips (queries, commands, calls) saved per request, else
    "info"; always "info" for what only test code repeats. Counted, not
    timed: a test asserting no warnings gets the same verdict on any machine."""
    if driven_by_tests or saved < warn_from:
        return "info"
    return "warning"
