"""djperf against django-zeal and nplusone, on the loops of capture_overhead.py.

    .venv/bin/python benchmarks/peers.py

The peers patch Django for good when they load, so each tool is measured in a
fresh process of its own: the process first times bare Django, then installs
the tool (zeal's patch(), nplusone's patch module, djperf's hooks), then times
it installed but idle and then active, and reports both as ratios to its own
bare time. The script builds an environment for this (benchmarks/.venv-peers:
Django 5.2, django-zeal, nplusone and this djperf; nplusone does not run on
Django 6.1), runs a few rounds of one process per tool, and prints the median
ratio of the rounds.

- djperf: installed (its hooks), and inside djperf.capture() with every detector;
- zeal: installed (its patches), and inside zeal_context();
- nplusone: installed (its patches), and inside its Profiler().
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv-peers"
PEERS = ["Django>=5.2,<5.3", "django-zeal==2.3.0", "nplusone==1.0.0"]
TOOLS = ["djperf", "zeal", "nplusone"]
WARM_UP = 10


def environment() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / ".ready"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-qq", *PEERS, "-e", str(ROOT)], check=True
        )
        stamp.write_text("ok\n")
    return python


def _time(loop: Any, scope: Any, number: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        with scope():
            for _ in range(number):
                loop()
        best = min(best, (time.process_time() - start) / number)
    return best


def _install(tool: str) -> tuple[Any, Any]:
    """Patch Django with `tool`; return the context that makes it active."""
    if tool == "djperf":
        import djperf
        from djperf.record import hooks

        hooks.install()
        return djperf.capture, None
    if tool == "zeal":
        from zeal.constants import initialize_app_registry
        from zeal.patch import patch

        # What zeal's AppConfig.ready() does.
        initialize_app_registry()
        patch()
        from zeal import zeal_context

        return zeal_context, None
    import functools

    import nplusone.ext.django.patch  # noqa: F401 - patches Django on import
    from nplusone.core.profiler import Profiler

    # nplusone reports the prefetched tags, which the loop uses, as an unused
    # eager load (a false positive) and raises: allow it, so it can be timed.
    return functools.partial(Profiler, whitelist=[{"model": "Book", "field": "tags"}]), None


def measure(tool: str, rows: int, number: int, repeat: int) -> dict[str, dict[str, float]]:
    """In this process: bare Django, then `tool` idle and active, per loop."""
    sys.path.insert(0, str(HERE))
    from _setup import setup_django

    setup_django()
    import capture_overhead

    capture_overhead.populate(rows)
    loops = capture_overhead.loops()
    nothing = contextlib.nullcontext
    results: dict[str, dict[str, float]] = {name: {} for name in loops}
    # Warm up well: the bare timing comes first in the process, and must not
    # pay for cold caches that the tool's timings later would not.
    for _ in range(WARM_UP):
        for loop in loops.values():
            loop()
    for name, loop in loops.items():
        results[name]["bare"] = _time(loop, nothing, number, repeat)
    active, _ = _install(tool)
    for _ in range(WARM_UP):
        for loop in loops.values():
            with active():
                loop()
    for name, loop in loops.items():
        results[name]["idle"] = _time(loop, nothing, number, repeat)
        results[name]["active"] = _time(loop, active, number, repeat)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--condition", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.condition:
        print(json.dumps(measure(args.condition, args.rows, args.number, args.repeat)))
        return 0

    python = environment()
    ratios: dict[tuple[str, str, str], list[float]] = {}
    bare: dict[str, float] = {}
    for _ in range(args.rounds):
        for tool in TOOLS:
            output = subprocess.run(
                [
                    str(python),
                    __file__,
                    "--condition",
                    tool,
                    "--rows",
                    str(args.rows),
                    "--number",
                    str(args.number),
                    "--repeat",
                    str(args.repeat),
                ],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": ""},
            ).stdout
            results = json.loads(output.strip().splitlines()[-1])
            for loop, times in results.items():
                bare[loop] = min(bare.get(loop, times["bare"]), times["bare"])
                for state in ("idle", "active"):
                    ratios.setdefault((tool, state, loop), []).append(times[state] / times["bare"])

    version = subprocess.run(
        [
            str(python),
            "-c",
            "import django, sys; print(django.get_version(), sys.version.split()[0])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    loops = list(bare)
    print(
        f"{args.rows} rows, SQLite in memory, Django {version[0]}, Python {version[1]}: ratio to "
        f"bare Django timed in the same process, median of {args.rounds} rounds"
    )
    print(f"  {'tool':<26}" + "".join(f"{loop:>20}" for loop in loops))
    names = {"idle": "installed, idle", "active": "active"}
    for tool in TOOLS:
        for state in ("idle", "active"):
            cells = "".join(
                f"{statistics.median(ratios[(tool, state, loop)]):>19.2f}x" for loop in loops
            )
            print(f"  {tool + ' ' + names[state]:<26}" + cells)
    print(f"  {'bare (best, ms)':<26}" + "".join(f"{bare[loop] * 1e3:>20.2f}" for loop in loops))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
