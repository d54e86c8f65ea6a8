"""How much memory does one long capture hold, and does each query cost the same?

    .venv/bin/python benchmarks/capture_memory.py [--counts 10000,100000,1000000]

One capture around N ``Book.objects.get(pk=...)`` calls (SQLite in memory,
1,000 books, the test app's models), each N in a fresh process, three ways:

- bare:       Django alone, djperf's hooks not installed;
- capped:     inside djperf.capture() with its default budget
              (DJPERF["MAX_MEMORY_MB"], 50 MB): past it, repeats are counted;
- unbounded:  inside djperf.capture(max_memory_mb=None): every event kept
              (only for the counts up to --unbounded-up-to: it grows by about
              a kilobyte per query).

It prints, per N and way: the peak resident memory the loop added (the
process's peak, ru_maxrss, less its resident size before the loop), the CPU
time per get() (the capture's exit, where the rules run, included), and how
many queries the recording kept. Memory is the point here; the times come
from one run each on a shared machine: they say "flat" or "not flat", not
more (capture_instructions.py counts the cost per loop exactly).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WAYS = ("bare", "capped", "unbounded")
BOOKS = 1000


def _resident_kib() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def child(way: str, count: int) -> dict[str, float]:
    """Runs in a fresh process: set up, then `count` get()s under `way`."""
    sys.path.insert(0, str(HERE))
    from _setup import setup_django

    setup_django()
    from tests.testapp.models import Author, Book

    import djperf
    from djperf.record import hooks

    author = Author.objects.create(name="A")
    Book.objects.bulk_create(Book(title=f"B{i}", author=author) for i in range(BOOKS))
    keys = list(Book.objects.order_by("pk").values_list("pk", flat=True))
    if way == "bare":
        hooks.uninstall()
    else:
        hooks.install()

    def loop(n: int) -> None:
        for number in range(n):
            Book.objects.get(pk=keys[number % BOOKS]).title  # noqa: B018

    loop(200)  # warm caches and code paths
    gc.collect()
    before = _resident_kib()
    start = time.process_time()
    kept = summarized = 0
    if way == "bare":
        loop(count)
    else:
        budget = None if way == "unbounded" else djperf.capture().options.max_memory
        mb = None if budget is None else budget / (1024 * 1024)
        with djperf.capture(max_memory_mb=mb) as rec:
            loop(count)
        kept = len(rec.queries)
        summarized = sum(s.count for s in rec.summaries.values() if s.kind == "queries")
    elapsed = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "added_mb": max(0, peak - before) / 1024,
        "us_per_get": elapsed / count * 1e6,
        "kept": kept,
        "summarized": summarized,
    }


def run(way: str, count: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", way, str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{way} / {count} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="10000,100000,1000000")
    parser.add_argument("--unbounded-up-to", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, metavar=("WAY", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    counts = [int(n) for n in args.counts.split(",")]
    print(
        f"get() in a loop over {BOOKS} books, one capture around the loop, SQLite in memory, "
        f"Python {sys.version.split()[0]}"
    )
    print(f"  {'gets':>9} {'way':<10} {'peak added':>11} {'CPU/get':>9} {'kept':>9} {'counted':>9}")
    for count in counts:
        for way in WAYS:
            if way == "unbounded" and count > args.unbounded_up_to:
                continue
            result = run(way, count)
            print(
                f"  {count:>9,} {way:<10} {result['added_mb']:9.1f}MB "
                f"{result['us_per_get']:7.1f}us {int(result['kept']):>9,} "
                f"{int(result['summarized']):>9,}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
