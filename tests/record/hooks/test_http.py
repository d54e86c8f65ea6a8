"""The HTTP hook: every library's calls, with the timeout in force, against a real server
on the loopback."""

from __future__ import annotations

import asyncio
import urllib.request

import httpx
import pytest
import requests
import urllib3
from asgiref.sync import async_to_sync

import djperf
from tests.helpers import site


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
