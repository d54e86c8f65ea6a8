"""Capture overhead of two revisions of djperf, measured in the same run.

    .venv/bin/python benchmarks/compare_revisions.py BEFORE [AFTER] [--rounds 8]
    .venv/bin/python benchmarks/compare_revisions.py BEFORE [AFTER] --instructions

BEFORE and AFTER are git revisions (AFTER defaults to the working tree, ".").
Each revision other than the working tree is checked out in a temporary git
worktree. Both are timed by this checkout's benchmarks/capture_overhead.py
(the same loops, the same test models), with ``PYTHONPATH`` pointing at the
revision's ``src`` so that its djperf is the one imported.

The two revisions alternate, round by round, in separate processes (one
process cannot import two djperfs): a slow spell of the shared machine hits
both alike. Each process times bare, idle and capturing back to back and
reports its per-round ratios to bare; the verdict per loop is the median of
all rounds' ratios of each revision, and their quotient (after / before).

With ``--instructions`` the loops are counted in instructions instead
(benchmarks/capture_instructions.py, under callgrind): no rounds are needed,
the counts repeat to a few tenths of a percent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "capture_overhead.py"


def tree(revision: str, work: Path) -> Path:
    if revision == ".":
        return ROOT
    path = work / revision.replace("/", "_")
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), revision],
        check=True,
    )
    return path


def sample(source: Path, args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    env = {**os.environ, "PYTHONPATH": str(source / "src")}
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--json",
            "--rounds",
            str(args.inner),
            "--number",
            str(args.number),
            "--rows",
            str(args.rows),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    loops: dict[str, dict[str, list[float]]] = json.loads(done.stdout.splitlines()[-1])["loops"]
    return loops


def imported_from(source: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(source / "src")}
    done = subprocess.run(
        [sys.executable, "-c", "import djperf; print(djperf.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default=".")
    parser.add_argument("--rounds", type=int, default=8, help="alternations of the revisions")
    parser.add_argument("--inner", type=int, default=5, help="rounds inside each process")
    parser.add_argument("--number", type=int, default=3, help="loops per timing")
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions (callgrind) instead"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="djperf-revisions-") as temporary:
        work = Path(temporary)
        trees = {"before": tree(args.before, work), "after": tree(args.after, work)}
        try:
            for label, source in trees.items():
                print(f"{label}: {getattr(args, label)} -> djperf from {imported_from(source)}")
            if args.instructions:
                return _instructions(trees, args)
            ratios: dict[str, dict[str, dict[str, list[float]]]] = {"before": {}, "after": {}}
            for number in range(args.rounds):
                order = ["before", "after"] if number % 2 == 0 else ["after", "before"]
                for label in order:
                    for loop, conditions in sample(trees[label], args).items():
                        for condition, values in conditions.items():
                            kept = ratios[label].setdefault(loop, {}).setdefault(condition, [])
                            kept.extend(values)
        finally:
            for source in trees.values():
                if source != ROOT:
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source)],
                        check=False,
                    )

    samples = args.rounds * args.inner
    print(
        f"{args.rows} rows, {args.rounds} alternations x {args.inner} rounds x {args.number} loops "
        f"({samples} ratios per revision and condition), Python {sys.version.split()[0]}"
    )
    print(f"  {'loop':<18} {'condition':<10} {'before':>8} {'after':>8} {'after/before':>13}")
    for loop, conditions in ratios["after"].items():
        for condition in conditions:
            before = statistics.median(ratios["before"][loop][condition])
            after = statistics.median(ratios["after"][loop][condition])
            print(
                f"  {loop:<18} {condition:<10} {before:7.3f}x {after:7.3f}x {after / before:12.3f}"
            )
    return 0


def _instructions(trees: dict[str, Path], args: argparse.Namespace) -> int:
    from capture_instructions import LOOPS, measure

    counted = {
        label: measure(LOOPS, number=args.number, rows=args.rows, src=source / "src")
        for label, source in trees.items()
    }
    print(
        f"{args.rows} rows, instructions per loop run (callgrind, {args.number} runs counted), "
        f"Python {sys.version.split()[0]}"
    )
    print(f"  {'loop':<18} {'condition':<10} {'before':>8} {'after':>8} {'after/before':>13}")
    for loop in LOOPS:
        # djperf is not installed for bare: both revisions run the same code,
        # so the two counts show how far the method repeats.
        bare_before, bare_after = counted["before"][loop]["bare"], counted["after"][loop]["bare"]
        print(
            f"  {loop:<18} {'bare':<10} {bare_before / 1e6:7.2f}M {bare_after / 1e6:7.2f}M "
            f"{bare_after / bare_before:12.4f}"
        )
        for condition in ("idle", "capturing"):
            before = counted["before"][loop][condition] / counted["before"][loop]["bare"]
            after = counted["after"][loop][condition] / counted["after"][loop]["bare"]
            print(
                f"  {loop:<18} {condition:<10} {before:7.4f}x {after:7.4f}x {after / before:12.4f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
