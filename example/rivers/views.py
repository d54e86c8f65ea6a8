"""The river dashboard of seed 000 in its three versions: v1, v2 (threads), v3 (async)."""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from rivers.upstream import (
    RiverRow,
    river_data_gathered,
    river_data_sequential,
    river_data_threaded,
)


def _render(request: HttpRequest, version: str, rows: list[RiverRow], start: float) -> HttpResponse:
    context = {"river_data": rows, "version": version, "load_time": time.perf_counter() - start}
    return render(request, "rivers/dashboard.html", context)


def dashboard_v1(request: HttpRequest) -> HttpResponse:
    """Synchronous view that loads the sites one at a time."""
    start = time.perf_counter()
    return _render(request, "v1", river_data_sequential(), start)


def dashboard_v2(request: HttpRequest) -> HttpResponse:
    """Concurrent view: a thread pool loads several sites at once."""
    start = time.perf_counter()
    return _render(request, "v2", river_data_threaded(), start)


async def dashboard_v3(request: HttpRequest) -> HttpResponse:
    """Asynchronous view: asyncio.gather loads every site at once."""
    start = time.perf_counter()
    return _render(request, "v3", await river_data_gathered(), start)
