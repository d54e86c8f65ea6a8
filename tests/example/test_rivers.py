"""The USGS stand-in and the three dashboards (seed 000)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from rivers.standin import readings, running_upstream
from rivers.upstream import parse_flow_and_height_from_json, river_data_threaded

SITE = "06191500"


@pytest.fixture
def upstream() -> Iterator[str]:
    with running_upstream(latency=0.01) as url, override_settings(RIVERS_UPSTREAM_URL=url):
        yield url


def test_standin_answers_like_usgs(upstream: str) -> None:
    response = requests.get(f"{upstream}/nwis/iv/?format=json&sites={SITE}", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert parse_flow_and_height_from_json(response.json()) == {
        "discharge": readings(SITE)["00060"],
        "gage_height": readings(SITE)["00065"],
    }


def test_standin_rejects_other_requests(upstream: str) -> None:
    assert requests.get(f"{upstream}/nwis/iv/", timeout=5).status_code == 400
    assert requests.get(f"{upstream}/other/?sites={SITE}", timeout=5).status_code == 400


def test_standin_waits_its_latency() -> None:
    with running_upstream(latency=0.2) as url:
        start = time.perf_counter()
        requests.get(f"{url}/nwis/iv/?sites={SITE}", timeout=5)
        assert time.perf_counter() - start >= 0.2


def test_readings_differ_per_site() -> None:
    assert readings("06191500") != readings("06192500")
    assert readings(SITE) == readings(SITE)


def test_three_dashboards_show_the_same_rivers(
    seeded: dict[str, int], client: Client, upstream: str
) -> None:
    pages = {}
    for version in ("v1", "v2", "v3"):
        response = client.get(reverse(f"rivers:dashboard-{version}"))
        assert response.status_code == 200
        body = response.content.decode()
        # Everything but the version label and the load time must match.
        pages[version] = body[body.index("<table>") : body.index("</table>")]
        assert "Yellowstone River at Billings" in body
    assert pages["v1"] == pages["v2"] == pages["v3"]
    assert len(river_data_threaded()) == seeded["rivers.RiverSite"]
