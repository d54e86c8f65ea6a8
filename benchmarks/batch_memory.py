"""Peak memory of paging through a table with djperf.batched(), against loading it whole.

    .venv/bin/python benchmarks/batch_memory.py [--rows 2000 20000 200000]

Each measure runs in a subprocess of its own (its own interpreter, an
in-memory SQLite test database of tests/settings.py's testapp): the table
of tags is filled, then tracemalloc measures the peak while the rows are
read, ``batched(..., 500)`` or ``list(queryset)``. Prints one row per size.
tests/batch/test_memory.py asserts on the same measure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys, tracemalloc
import django
django.setup()
from django.db import connection
connection.creation.create_test_db(verbosity=0)
import djperf
from tests.testapp.models import Tag

rows = int(sys.argv[1])
Tag.objects.bulk_create((Tag(name=f"tag {i:07}") for i in range(rows)), batch_size=5000)
tracemalloc.start()
if sys.argv[2] == "batched":
    seen = sum(len(batch) for batch in djperf.batched(Tag.objects.all(), 500))
else:
    seen = len(list(Tag.objects.all()))
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"rows": seen, "peak": peak}))
"""


def peak(rows: int, way: str) -> dict[str, int]:
    """{"rows": rows read, "peak": bytes} for `way` ("batched" or "list")."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJPERF_TEST_DB": "sqlite",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(rows), way],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000, 20_000, 200_000])
    args = parser.parse_args(argv)
    print(f"{'rows':>9}  {'batched(500) peak':>18}  {'list() peak':>12}")
    for rows in args.rows:
        paged, whole = peak(rows, "batched"), peak(rows, "list")
        print(f"{rows:>9,}  {paged['peak'] / 1e6:>15.2f} MB  {whole['peak'] / 1e6:>9.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
