"""djperf.batched() keeps memory flat as the rows grow, measured in a subprocess
by benchmarks/batch_memory.py (its own interpreter and in-memory SQLite
database: nothing of this process's heap in the numbers). Bytes, not time:
the verdict cannot flake on a busy machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from batch_memory import peak


@pytest.mark.skipif(
    os.environ.get("DJPERF_TEST_DB", "sqlite") != "sqlite",
    reason="measured on an in-memory SQLite database of its own: once is enough",
)
def test_memory_stays_flat_as_the_rows_grow():
    small, large = peak(2_000, "batched"), peak(20_000, "batched")
    assert (small["rows"], large["rows"]) == (2_000, 20_000)
    # Ten times the rows, the same batches: the peak stays within half again.
    assert large["peak"] < small["peak"] * 1.5, (small, large)
    # The measure can tell: loading the whole table grows with it.
    whole_small, whole_large = peak(2_000, "list"), peak(20_000, "list")
    assert whole_large["peak"] > whole_small["peak"] * 5, (whole_small, whole_large)
    assert large["peak"] * 4 < whole_large["peak"]
