"""The demo's small run of recompute_scores in each of its six ways.

seed 000 compared its five methods on memory at 50,000 rows; `make demo` runs
them and djperf's on the demo's few thousand rows, in seconds: statements
sent, Python's peak memory while the method ran (tracemalloc) and wall time.
benchmarks/batch.py is the full measure (50,000 and 1,000,000 rows, each
method in a process of its own, on the three databases).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection

from bigdata.models import SomeModel
from bigdata.recompute import METHODS

CHUNK_SIZE = 500


@dataclass(frozen=True)
class Outcome:
    method: str
    rows: int
    statements: int
    peak_bytes: int
    seconds: float


@contextmanager
def counting_statements() -> Iterator[list[int]]:
    """The number of statements sent to the database inside the block."""
    count = [0]

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        count[0] += 1
        return execute(sql, *args)

    with connection.execute_wrapper(wrapper):
        yield count


def compare(chunk_size: int = CHUNK_SIZE) -> list[Outcome]:
    """Each method on the same rows, each starting from field = 0."""
    outcomes = []
    for name, method in METHODS.items():
        SomeModel.objects.update(field=0)
        tracemalloc.start()
        started = time.perf_counter()
        with counting_statements() as statements:
            rows = method(chunk_size)
        seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        outcomes.append(Outcome(name, rows, statements[0], peak, seconds))
    return outcomes
