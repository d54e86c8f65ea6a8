"""What one run of a scenario version cost, measured without djperf.

Queries come from Django's own CaptureQueriesContext, Redis commands from the
server's INFO commandstats, upstream calls in flight at once from the rivers
stand-in's own count, time (shown, never asserted) from perf_counter.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis import Redis

from rivers import standin


def redis_command_count(client: Redis) -> int:
    """Commands the Redis server has executed so far, not counting INFO itself."""
    stats = client.info("commandstats")
    return sum(value["calls"] for name, value in stats.items() if name != "cmdstat_info")


@dataclass
class Measurement:
    redis: Redis | None = None
    queries: list[str] = field(default_factory=list)
    redis_commands: int = 0
    seconds: float = 0.0
    # The most calls the rivers stand-in had in flight at once (0: not called).
    upstream_peak: int = 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        redis_before = redis_command_count(self.redis) if self.redis else 0
        # Started by the scenario's set-up, before the measured block.
        server = standin.last_server
        peak_before = server.peak if server is not None else 0
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            yield
            self.seconds = time.perf_counter() - start
        if server is not None and server.peak != peak_before:
            self.upstream_peak = server.peak
        if self.redis:
            self.redis_commands = redis_command_count(self.redis) - redis_before
        self.queries = [query["sql"] for query in captured.captured_queries]
