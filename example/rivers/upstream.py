"""Reading river data from the upstream API, the three ways of seed 000's dashboard.

seed 000, "Improving Django View Performance with Async Support": six calls to
the USGS, one per access point on the Yellowstone River. v1 makes them one after
another, v2 in a thread pool, v3 concurrently with asyncio.gather.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import requests
from django.conf import settings

from rivers.models import RiverSite
from rivers.standin import DISCHARGE, GAGE_HEIGHT

RiverData = dict[str, float]
RiverRow = tuple[str, RiverData]

# seed 003, "Use timeouts": connect fast or give up; a slow river gauge must not
# hold the dashboard for ever.
TIMEOUT = httpx.Timeout(5.0, connect=2.0)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds: a client built per request
    # would pay it every time, so the context is built once per process.
    return ssl.create_default_context()


def site_url(site_id: str) -> str:
    return (
        f"{settings.RIVERS_UPSTREAM_URL}/nwis/iv/"
        f"?format=json&sites={site_id}&parameterCd={DISCHARGE},{GAGE_HEIGHT}&siteStatus=all"
    )


def parse_flow_and_height_from_json(document: dict[str, Any]) -> RiverData:
    """Discharge (ft³/s) and gage height (ft) from a USGS instantaneous-values document."""
    names = {DISCHARGE: "discharge", GAGE_HEIGHT: "gage_height"}
    data: RiverData = {}
    for series in document["value"]["timeSeries"]:
        code = series["variable"]["variableCode"][0]["value"]
        if code in names:
            data[names[code]] = float(series["values"][0]["value"][-1]["value"])
    return data


def get_river_flow_and_height(site_id: str) -> RiverData:
    # The demo's deliberate mistake, copied from seed 000: no timeout, so a hung
    # upstream hangs this request too (seed 003: "Use timeouts").
    response = requests.get(site_url(site_id))  # noqa: S113
    response.raise_for_status()
    return parse_flow_and_height_from_json(response.json())


async def get_river_flow_and_height_async(client: httpx.AsyncClient, site_id: str) -> RiverData:
    response = await client.get(site_url(site_id))
    response.raise_for_status()
    return parse_flow_and_height_from_json(response.json())


def river_data_sequential() -> list[RiverRow]:
    """v1: one call after another, about six times the upstream latency."""
    return [
        (site.name, get_river_flow_and_height(site.site_id)) for site in RiverSite.objects.all()
    ]


def river_data_threaded(max_workers: int = 3) -> list[RiverRow]:
    """v2: a pool of three threads, as in the seed: about twice the latency for six sites."""
    sites = list(RiverSite.objects.all())
    with ThreadPoolExecutor(max_workers=max_workers) as executor:
        datas = list(executor.map(get_river_flow_and_height, [site.site_id for site in sites]))
    return [(site.name, data) for site, data in zip(sites, datas, strict=True)]


async def river_data_gathered() -> list[RiverRow]:
    """v3: every call at once with asyncio.gather, about one latency in all."""
    sites = [site async for site in RiverSite.objects.all()]
    # One client for all the calls (one connection pool), not one per site as in
    # the seed's version; its SSL context is shared by every request.
    async with httpx.AsyncClient(timeout=TIMEOUT, verify=ssl_context()) as client:
        datas = await asyncio.gather(
            *(get_river_flow_and_height_async(client, site.site_id) for site in sites)
        )
    return [(site.name, data) for site, data in zip(sites, datas, strict=True)]
