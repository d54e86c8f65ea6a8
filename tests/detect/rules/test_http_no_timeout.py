"""http-no-timeout: an outbound HTTP call with nothing bounding how long it may wait,
against a real server on the loopback."""

from __future__ import annotations

import urllib.request

import httpx
import requests
import urllib3
from asgiref.sync import async_to_sync

import djperf
from tests.helpers import line, of, site

HERE = __file__


class TimeoutAdapter(requests.adapters.HTTPAdapter):
    """The usual way a team gives every call of a session a timeout."""

    def send(self, request, **kwargs):
        kwargs["timeout"] = kwargs.get("timeout") or 4
        return super().send(request, **kwargs)


# -- must flag -----------------------------------------------------------------------------


def test_no_timeout_is_flagged(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1))  # no-timeout
    [finding] = of(rec, "http-no-timeout")
    assert finding.fix.method == "timeout"
    assert "timeout=" in finding.fix.text
    assert str(finding.location) == line(HERE, "no-timeout")


def test_urllib_without_timeout_is_flagged(upstream):
    with djperf.capture() as rec:
        urllib.request.urlopen(site(upstream, 1)).read()
    assert len(of(rec, "http-no-timeout")) == 1


def test_a_connect_timeout_alone_is_no_timeout(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=(3, None))
        with httpx.Client(timeout=httpx.Timeout(5, read=None)) as client:
            client.get(site(upstream, 2))
        urllib3.PoolManager(timeout=urllib3.Timeout(connect=2)).request("GET", site(upstream, 3))
    assert [c.timeout for c in rec.http_calls] == [None, None, None]
    assert len(of(rec, "http-no-timeout")) == 3


def test_a_call_from_a_response_hook_is_its_own(upstream):
    def hook(response, **kwargs):
        requests.get(site(upstream, 2), timeout=5)  # hook-call
        return response

    with djperf.capture() as rec:
        requests.get(site(upstream, 1), hooks={"response": hook})  # hooked-call
    assert sorted((str(c.location), c.timeout or 0) for c in rec.http_calls) == sorted(
        [(line(HERE, "hooked-call"), 0), (line(HERE, "hook-call"), 5.0)]
    )
    [finding] = of(rec, "http-no-timeout")
    assert str(finding.location) == line(HERE, "hooked-call")


# -- must not flag -------------------------------------------------------------------------


def test_not_flagged_with_a_timeout(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=5)
        httpx.get(site(upstream, 2))
    assert of(rec, "http-no-timeout") == []


def test_not_flagged_with_a_pool_timeout(upstream):
    with djperf.capture() as rec:
        urllib3.PoolManager(timeout=3.0).request("GET", site(upstream, 1))
    assert of(rec, "http-no-timeout") == []


def test_the_timeout_an_adapter_sets_is_the_one_in_force(upstream):
    session = requests.Session()
    session.mount("http://", TimeoutAdapter())
    with djperf.capture() as rec:
        session.get(site(upstream, 1))
    assert [(c.library, c.timeout) for c in rec.http_calls] == [("requests", 4.0)]
    assert of(rec, "http-no-timeout") == []


def test_urllib_with_a_timeout_is_not_flagged(upstream):
    with djperf.capture() as rec:
        body = urllib.request.urlopen(site(upstream, 1), timeout=9).read()
    assert body
    assert [(c.library, c.timeout, c.status) for c in rec.http_calls] == [("urllib", 9.0, 200)]
    assert of(rec, "http-no-timeout") == []


def test_a_read_timeout_with_the_connect_one_is_not_flagged(upstream):
    async def fetch():
        async with httpx.AsyncClient(timeout=httpx.Timeout(3, read=7)) as client:
            return (await client.get(site(upstream, 4))).status_code

    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=(3, 7))
        with httpx.Client(timeout=httpx.Timeout(3, read=7)) as client:
            client.get(site(upstream, 2))
        urllib3.PoolManager(timeout=urllib3.Timeout(connect=3, read=7)).request(
            "GET", site(upstream, 3)
        )
        assert async_to_sync(fetch)() == 200
    assert [(c.library, c.timeout) for c in rec.http_calls] == [
        ("requests", 7.0),
        ("httpx", 7.0),
        ("urllib3", 7.0),
        ("httpx", 7.0),
    ]
    assert of(rec, "http-no-timeout") == []
