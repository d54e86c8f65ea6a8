"""A stand-in for the USGS instantaneous-values service, on the loopback (seed 000).

The dashboard of seed 000 calls waterservices.usgs.gov once per site. The demo
runs without internet, so this tiny server answers the same kind of request
(``/nwis/iv/?format=json&sites=<id>&parameterCd=00060,00065``) with a small
JSON document in the USGS shape, after a set latency: that latency is what the
sequential dashboard pays once per site and the concurrent ones pay about once.
Readings are derived from the site id, so every run sees the same data.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import zlib
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

DISCHARGE = "00060"  # cubic feet per second
GAGE_HEIGHT = "00065"  # feet


def readings(site_id: str) -> dict[str, float]:
    """The stand-in's (stable) discharge and gage height for `site_id`."""
    checksum = zlib.crc32(site_id.encode())
    return {
        DISCHARGE: float(800 + checksum % 9200),
        GAGE_HEIGHT: round(1.5 + (checksum >> 12) % 700 / 100, 2),
    }


def usgs_document(site_id: str) -> dict[str, Any]:
    def series(code: str, value: float) -> dict[str, Any]:
        return {
            "sourceInfo": {"siteCode": [{"value": site_id}]},
            "variable": {"variableCode": [{"value": code}]},
            "values": [{"value": [{"value": str(value), "dateTime": "2024-08-24T09:00:00Z"}]}],
        }

    return {"value": {"timeSeries": [series(code, v) for code, v in readings(site_id).items()]}}


class UpstreamServer(ThreadingHTTPServer):
    """The stand-in: answers each site request after `latency` seconds.

    It counts the site requests in flight, and `peak` is the most there were
    at once: 1 for a dashboard that calls one site after another, more for
    one whose calls overlap. With `together` above 1, no request is answered
    before that many were in flight at once (or `deadline` seconds passed), so
    a test can prove that calls overlap without reading a clock.
    """

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], latency: float, together: int = 1, deadline: float = 30
    ) -> None:
        super().__init__(address, UpstreamHandler)
        self.latency = latency
        self.together = together
        self.deadline = deadline
        self.in_flight = 0
        self.peak = 0
        self._changed = threading.Condition()

    def arrived(self) -> None:
        with self._changed:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.peak >= self.together, timeout=self.deadline)

    def answered(self) -> None:
        with self._changed:
            self.in_flight -= 1

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class UpstreamHandler(BaseHTTPRequestHandler):
    server: UpstreamServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        sites = parse_qs(url.query).get("sites", [])
        if url.path.rstrip("/") != "/nwis/iv" or len(sites) != 1:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "expected /nwis/iv/?sites=<one id>"})
            return
        self.server.arrived()
        try:
            time.sleep(self.server.latency)
            document = usgs_document(sites[0])
        finally:
            # Before the answer is sent: a caller that waits for it never
            # overlaps the next call it makes.
            self.server.answered()
        self._send(HTTPStatus.OK, document)

    def _send(self, status: HTTPStatus, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: the demo prints its own report.
        pass


def make_server(
    host: str = "127.0.0.1", port: int = 0, latency: float | None = None
) -> UpstreamServer:
    """A stand-in bound to host:port (port 0: any free port), not yet serving."""
    if latency is None:
        latency = settings.RIVERS_UPSTREAM_LATENCY
    together = getattr(settings, "RIVERS_UPSTREAM_TOGETHER", 1)
    return UpstreamServer((host, port), latency, together=together)


# The stand-in started last: tests read its peak after a scenario ran.
last_server: UpstreamServer | None = None


@contextlib.contextmanager
def running_upstream(latency: float | None = None) -> Iterator[str]:
    """Serve the stand-in on a free loopback port in a thread; yields its base URL."""
    global last_server
    server = last_server = make_server(latency=latency)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
