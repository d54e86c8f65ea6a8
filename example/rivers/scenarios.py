"""Slow and optimized scenarios of the rivers app (seed 000, async dashboard)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import requests
from asgiref.sync import async_to_sync
from django.test.utils import override_settings

from rivers.standin import running_upstream
from rivers.upstream import (
    TIMEOUT,
    RiverRow,
    river_data_gathered,
    river_data_sequential,
    ssl_context,
)
from shopsite.scenarios import Scenario, register


@contextlib.contextmanager
def upstream_standin() -> Iterator[None]:
    """Start the USGS stand-in, point the dashboards at it, warm both HTTP clients."""
    with running_upstream() as url, override_settings(RIVERS_UPSTREAM_URL=url):
        warm_up_clients(url)
        yield


def warm_up_clients(url: str) -> None:
    """One request with each client library, outside the measurement.

    The first httpx request of a process imports anyio, httpcore and h11 (about
    70 ms here) and the first async one builds the shared SSL context: costs a
    long-running server pays once, not what the pair compares. The stand-in
    answers an unknown path at once, without its latency.
    """
    requests.get(f"{url}/warm-up", timeout=5)

    async def warm_up_httpx() -> None:
        async with httpx.AsyncClient(timeout=TIMEOUT, verify=ssl_context()) as client:
            await client.get(f"{url}/warm-up")

    async_to_sync(warm_up_httpx)()


def dashboard_slow() -> list[RiverRow]:
    return river_data_sequential()


def dashboard_optimized() -> list[RiverRow]:
    return async_to_sync(river_data_gathered)()


register(
    Scenario(
        name="rivers.dashboard",
        title="River dashboard: six upstream calls one after another vs asyncio.gather",
        slow=dashboard_slow,
        optimized=dashboard_optimized,
        metric="seconds",
        setup=upstream_standin,
        source="000 'Improving Django View Performance with Async Support': "
        "dashboard_v1 (sequential requests.get) vs dashboard_v3 (httpx + asyncio.gather)",
        tags=frozenset({"sequential-http", "http-no-timeout"}),
    )
)
