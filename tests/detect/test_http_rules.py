"""http-no-timeout, sequential-http, repeated-http, against a real server on the loopback."""

from __future__ import annotations

import asyncio
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests
import urllib3
from asgiref.sync import async_to_sync

import djperf
from rivers.standin import running_upstream
from tests.detect.conftest import line, of

HERE = __file__


@pytest.fixture(scope="module")
def upstream():
    with running_upstream(latency=0.03) as base:
        yield base


def site(upstream, number):
    return f"{upstream}/nwis/iv/?format=json&sites={number}"


# -- the hooks: every library, the timeout in force ------------------------------------


def test_requests_without_and_with_timeout(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1))
        requests.get(site(upstream, 1), timeout=(2, 7))
    assert [(c.library, c.timeout, c.status) for c in rec.http_calls] == [
        ("requests", None, 200),
        ("requests", 7.0, 200),
    ]
    assert rec.http_calls[0].url == f"{upstream}/nwis/iv/"


def test_httpx_default_timeout_and_none(upstream):
    with djperf.capture() as rec:
        httpx.get(site(upstream, 1))
        with httpx.Client(timeout=None) as client:
            client.get(site(upstream, 1))
    assert [(c.library, c.timeout) for c in rec.http_calls] == [("httpx", 5.0), ("httpx", None)]


def test_httpx_async(upstream):
    async def fetch():
        async with httpx.AsyncClient(timeout=3) as client:
            await client.get(site(upstream, 1))

    with djperf.capture() as rec:
        async_to_sync(fetch)()
    [call] = rec.http_calls
    assert (call.library, call.timeout, call.asynchronous) == ("httpx", 3.0, True)


def test_urllib3_and_urllib(upstream):
    with djperf.capture() as rec:
        urllib3.PoolManager().request("GET", site(upstream, 1))
        urllib3.PoolManager(timeout=urllib3.Timeout(connect=1, read=4)).request(
            "GET", site(upstream, 1)
        )
        urllib.request.urlopen(site(upstream, 1)).read()
        urllib.request.urlopen(site(upstream, 1), timeout=9).read()
    assert [(c.library, c.timeout) for c in rec.http_calls] == [
        ("urllib3", None),
        ("urllib3", 4.0),
        ("urllib", None),
        ("urllib", 9.0),
    ]


class TimeoutAdapter(requests.adapters.HTTPAdapter):
    """The usual way a team gives every call of a session a timeout."""

    def send(self, request, **kwargs):
        kwargs["timeout"] = kwargs.get("timeout") or 4
        return super().send(request, **kwargs)


def test_the_timeout_an_adapter_sets_is_the_one_in_force(upstream):
    session = requests.Session()
    session.mount("http://", TimeoutAdapter())
    with djperf.capture() as rec:
        session.get(site(upstream, 1))
    assert [(c.library, c.timeout) for c in rec.http_calls] == [("requests", 4.0)]
    assert of(rec, "http-no-timeout") == []


def test_a_connect_timeout_alone_is_no_timeout(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=(3, None))
        with httpx.Client(timeout=httpx.Timeout(5, read=None)) as client:
            client.get(site(upstream, 2))
        urllib3.PoolManager(timeout=urllib3.Timeout(connect=2)).request("GET", site(upstream, 3))
    assert [c.timeout for c in rec.http_calls] == [None, None, None]
    assert len(of(rec, "http-no-timeout")) == 3


def test_a_total_timeout_bounds_the_call(upstream):
    with djperf.capture() as rec:
        urllib3.PoolManager(timeout=urllib3.Timeout(total=6)).request("GET", site(upstream, 1))
    assert [c.timeout for c in rec.http_calls] == [6.0]


def test_httpx_request_sent_as_is_gets_the_client_timeout(upstream):
    with djperf.capture() as rec, httpx.Client(timeout=8) as client:
        client.send(httpx.Request("GET", site(upstream, 1)))
    assert [c.timeout for c in rec.http_calls] == [8.0]


@pytest.fixture
def redirector(upstream):
    """A server on the loopback that redirects every GET to the upstream."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", site(upstream, 1))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/old"
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_is_one_call(redirector):
    with djperf.capture() as rec:
        response = urllib3.PoolManager(timeout=3.0).request("GET", redirector)
        requests.get(redirector, timeout=3)
    assert response.status == 200
    assert [(c.library, c.status, c.timeout) for c in rec.http_calls] == [
        ("urllib3", 200, 3.0),
        ("requests", 200, 3.0),
    ]


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


def test_a_task_started_during_a_call_makes_calls_of_its_own(upstream):
    started = []

    async def work():
        async with httpx.AsyncClient(timeout=2) as client:

            async def later():
                await asyncio.sleep(0.01)
                await client.get(site(upstream, 2))

            async def hook(response):
                if not started:
                    started.append(asyncio.create_task(later()))

            client.event_hooks["response"] = [hook]
            await client.get(site(upstream, 1))
            await asyncio.gather(*started)

    with djperf.capture() as rec:
        async_to_sync(work)()
    assert len(rec.http_calls) == 2


def test_requests_is_recorded_once_not_again_by_urllib3(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=3)
    assert [c.library for c in rec.http_calls] == ["requests"]


def test_query_string_only_with_capture_params(upstream):
    with djperf.capture(capture_params=True) as rec:
        requests.get(site(upstream, 1), timeout=3)
    assert rec.http_calls[0].url == site(upstream, 1)


def test_failed_call_is_recorded_and_raised():
    with djperf.capture() as rec, pytest.raises(requests.ConnectionError):
        requests.get("http://127.0.0.1:1/", timeout=1)
    assert rec.http_calls[0].error == "ConnectionError"


# -- http-no-timeout ---------------------------------------------------------------------


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


def test_not_flagged_with_a_timeout(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=5)
        httpx.get(site(upstream, 2))
    assert of(rec, "http-no-timeout") == []


def test_not_flagged_with_a_pool_timeout(upstream):
    with djperf.capture() as rec:
        urllib3.PoolManager(timeout=3.0).request("GET", site(upstream, 1))
    assert of(rec, "http-no-timeout") == []


# -- sequential-http ---------------------------------------------------------------------


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


def test_not_flagged_when_gathered(upstream):
    async def fetch_all():
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.gather(*(client.get(site(upstream, n)) for n in range(4)))

    with djperf.capture() as rec:
        async_to_sync(fetch_all)()
    assert of(rec, "sequential-http") == []


def test_not_flagged_in_a_thread_pool(upstream):
    def fetch(number):
        return requests.get(site(upstream, number), timeout=5).status_code

    with djperf.capture() as rec, ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(fetch, range(4))) == [200] * 4
    assert of(rec, "sequential-http") == []


def test_not_flagged_for_a_single_call(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=5)
    assert of(rec, "sequential-http") == []


# -- repeated-http ---------------------------------------------------------------------


def test_the_same_request_repeated(upstream):
    with djperf.capture() as rec:
        for _ in range(3):
            requests.get(site(upstream, 7), timeout=5)
    [finding] = of(rec, "repeated-http")
    assert finding.count == 3
    assert finding.fix.method == "reuse"


def test_not_repeated_when_the_urls_differ(upstream):
    with djperf.capture() as rec:
        for number in range(3):
            requests.get(site(upstream, number), timeout=5)
    assert of(rec, "repeated-http") == []


def test_not_repeated_twice(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=5)
        requests.get(site(upstream, 1), timeout=5)
    assert of(rec, "repeated-http") == []
