"""Units of work inside a capture: the request or task run, or the call from
test code, that an event belongs to.

A test often makes several requests, or calls the same application code in a
loop. Work that repeats only because the test repeated it is no problem of
the application's, so the repetition rules judge each request (or Celery task
run) on its own and, outside requests, each call that test code made on its
own (djperf.detect._work):

- `REQUEST` is the request or task run in progress, a serial number: the
  requests hook sets it around Django's handler (the test client, WSGI,
  ASGI), the tasks hook around a Celery task.
- A `Drive` is one call from test code into the code under test: the test's
  line and a serial number that stays the same for the whole call. stack.py
  finds it for events outside requests.
"""

from __future__ import annotations

import itertools
from contextvars import ContextVar
from typing import Any

from djperf.findings import Location

REQUEST: ContextVar[int | None] = ContextVar("djperf_request", default=None)

_serials = itertools.count(1)


def next_serial() -> int:
    """A number no other request, task run or drive of this process has."""
    return next(_serials)


class Drive:
    """One call that test code made (a test, a fixture, setUp): `location` is
    the test's line, `serial` tells this call from the next one made by the
    same line in a loop (None when djperf could not tell them apart).

    It is kept on the frame of the call (see stack.py); it is also a no-op
    trace function, should a debugger ever call it.
    """

    __slots__ = ("location", "serial")

    def __init__(self, location: Location, serial: int | None) -> None:
        self.location = location
        self.serial = serial

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        return None

    def __repr__(self) -> str:
        return f"<Drive #{self.serial} from {self.location}>"
