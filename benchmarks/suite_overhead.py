"""A pytest suite's time with and without ``--djperf``, in the same run.

    .venv/bin/python benchmarks/suite_overhead.py [--repeat 3] [--cwd DIR] -- PYTEST ARGS

Runs ``python -m pytest ARGS`` and ``python -m pytest ARGS --djperf``
alternately, ``--repeat`` times each (alternating, so that a slower stretch
of a shared machine falls on both), and prints the median wall time of each,
their ratio, the tests whose outcome differs between the two (from the
junit XML of each run) and the header of djperf's summary.

The demo suite (the issue's "demo suite"): ``-- tests/example -p no:randomly``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path


def outcomes(junit: Path) -> dict[str, str]:
    found = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
        found[name] = outcome
    return found


def run(args: list[str], cwd: Path, junit: Path, djperf: bool) -> tuple[float, str]:
    command = [sys.executable, "-m", "pytest", *args, f"--junitxml={junit}", "-q"]
    if djperf:
        command.append("--djperf")
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done.stdout


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cwd", type=Path, default=Path.cwd())
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    work = Path(tempfile.mkdtemp(prefix="djperf-suite-"))
    times: dict[bool, list[float]] = {False: [], True: []}
    summary = ""
    for round_ in range(args.repeat):
        for djperf in (False, True):
            junit = work / f"{'djperf' if djperf else 'bare'}-{round_}.xml"
            seconds, output = run(pytest_args, args.cwd, junit, djperf)
            times[djperf].append(seconds)
            if djperf:
                lines = output.splitlines()
                start = next((i for i, line in enumerate(lines) if " djperf " in line), None)
                summary = "\n".join(lines[start + 1 : start + 3]) if start is not None else ""
    bare, captured = statistics.median(times[False]), statistics.median(times[True])
    before = outcomes(work / "bare-0.xml")
    after = outcomes(work / "djperf-0.xml")
    changed = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    print(f"pytest {' '.join(pytest_args)}  (in {args.cwd}, {args.repeat} runs each, alternating)")
    print(f"  tests: {len(before)}; changed outcomes: {len(changed)}")
    for test in changed:
        print(f"    {test}: {before.get(test, 'absent')} -> {after.get(test, 'absent')}")
    print(f"  median {bare:.1f} s without, {captured:.1f} s with --djperf: {captured / bare:.2f}x")
    print(
        f"  runs: without {[round(t, 1) for t in times[False]]}, "
        f"with {[round(t, 1) for t in times[True]]}"
    )
    if summary:
        print("  djperf summary: " + summary.replace("\n", " / "))
    return 0 if not changed else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
