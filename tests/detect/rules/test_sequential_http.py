"""sequential-http: outbound calls of one thread or task that ran one after another,
against a real server on the loopback."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import httpx
import requests
from asgiref.sync import async_to_sync

import djperf
from tests.helpers import line, of, site

HERE = __file__


# -- must flag -----------------------------------------------------------------------------


def test_sequential_calls_are_flagged(upstream):
    with djperf.capture() as rec:
        for number in range(4):
            requests.get(site(upstream, number), timeout=5)  # one-after-another
    [finding] = of(rec, "sequential-http")
    assert finding.count == 4
    assert "ThreadPoolExecutor" in finding.fix.text
    assert str(finding.location) == line(HERE, "one-after-another")
    assert "in sequence" in finding.message


def test_sequential_awaits_suggest_gather(upstream):
    async def fetch_all():
        async with httpx.AsyncClient(timeout=5) as client:
            for number in range(4):
                await client.get(site(upstream, number))

    with djperf.capture() as rec:
        async_to_sync(fetch_all)()
    [finding] = of(rec, "sequential-http")
    assert "asyncio.gather" in finding.fix.text


def test_calls_one_per_call_of_a_test_loop_are_the_tests(upstream):
    # Three calls of at least 30 ms each: at least 60 ms saved together, over
    # the 50 ms default, whatever the machine's speed.
    from tests import as_tests

    with djperf.capture() as rec:
        as_tests.call_each(lambda n: requests.get(site(upstream, n), timeout=5), range(3))
    [finding] = of(rec, "sequential-http")
    assert finding.in_tests and finding.severity == "info"
    assert str(finding.location) == line("tests/as_tests.py", "the-test-loop")


# -- must not flag -------------------------------------------------------------------------


def test_not_flagged_when_gathered(upstream):
    async def fetch_all():
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.gather(*(client.get(site(upstream, n)) for n in range(4)))

    with djperf.capture() as rec:
        async_to_sync(fetch_all)()
    assert of(rec, "sequential-http") == []


def test_not_flagged_for_calls_made_side_by_side_in_threads(upstream):
    # Each thread's calls are judged on their own, whatever the clock says:
    # four threads (alive at once, so four distinct ones) with one call each
    # ran nothing one after another. Each runs in a copy of the capture's
    # context, as asgiref's sync_to_async does, so its call is recorded.
    alive = threading.Barrier(4)
    statuses: dict[int, int] = {}

    def fetch(number):
        alive.wait(timeout=30)  # a guard against a hang, not a verdict on time
        statuses[number] = requests.get(site(upstream, number), timeout=5).status_code

    with djperf.capture() as rec:
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(fetch, number))
            for number in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == {0: 200, 1: 200, 2: 200, 3: 200}
    assert len(rec.http_calls) == 4
    assert len({call.task for call in rec.http_calls}) == 4
    assert of(rec, "sequential-http") == []


def test_not_flagged_for_a_single_call(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=5)
    assert of(rec, "sequential-http") == []
