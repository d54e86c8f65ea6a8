"""manage.py rivers_upstream: serve the USGS stand-in in the foreground (seed 000).

Point the dashboards at it with DJPERF_RIVERS_URL (settings.RIVERS_UPSTREAM_URL)
and open /rivers/v1/, /rivers/v2/ and /rivers/v3/ to compare the load times.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand

from rivers.standin import make_server


class Command(BaseCommand):
    help = "Serve the stand-in for the USGS water services API on the loopback."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8089)
        parser.add_argument(
            "--latency",
            type=float,
            default=None,
            help="seconds before each answer (default: settings.RIVERS_UPSTREAM_LATENCY)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        server = make_server(options["host"], options["port"], options["latency"])
        self.stdout.write(
            f"USGS stand-in on {server.url} (latency {server.latency:.3f} s); "
            f"the dashboards call {settings.RIVERS_UPSTREAM_URL}. Ctrl-C to stop."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped")
        finally:
            server.server_close()
