"""djperf on a real project's own test suite: what it finds, what it costs, what it changes.

    .venv/bin/python benchmarks/realcode.py PROJECT --python PROJECT/.venv/bin/python \\
        --runner django|pytest [--settings MODULE] [--env NAME=VALUE ...] \\
        [--out DIR] [--label NAME] [--commit SHA] [--djperf-src SRC] [--own-capture] \\
        [--again | --reuse-bare]
        [-- TEST ARGUMENTS ...]

PROJECT is a checkout of the project, set up by the user with djperf
installed in its environment (``pip install -e /path/to/djperf``); this
script fetches and installs nothing. It runs the suite twice with the
project's Python, in the same way except for djperf:

- bare: every test wrapped by benchmarks/realcode_capture.py, recording its
  outcome, no capture;
- plugin: the same, with djperf's own options added to the command line
  (``--djperf --djperf-report FILE``: the pytest plugin, or
  ``djperf.testing.DjperfRunnerMixin`` on top of the project's runner), the
  findings read from djperf's report, judged over the suite as djperf judges
  them. (``--own-capture`` instead wraps every test in ``djperf.capture()``
  with this script's wrapper, fixtures' set-up included: how the runs before
  the plugin were made.)

and prints, per rule: the findings (one per test that produced it), the
distinct (rule, location) pairs, the tests that produced any, how many are
warnings and how many are driven by test code; then the suite's time with
djperf over the time without, and every test whose outcome changed. With
``--out DIR`` it keeps both runs' JSON lines and ``pairs.json``: each distinct
pair with its message, fix and example tests, the list a hand review works
from (docs/precision.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def command(args: argparse.Namespace, mode: str = "bare", report: Path | None = None) -> list[str]:
    """The suite's command line; in ``plugin`` mode with djperf's own options
    (``--djperf --djperf-report FILE``: the pytest plugin, or the runner)."""
    djperf = ["--djperf", "--djperf-report", str(report)] if mode == "plugin" else []
    if args.runner == "django":
        line = [args.python, "manage.py", "test", "--testrunner", "realcode_capture.Runner"]
        line += ["--noinput", "-v", "1"]
        if args.settings:
            line += ["--settings", args.settings]
        line += djperf
    else:
        line = [
            args.python,
            "-m",
            "pytest",
            "-p",
            "realcode_capture",
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        if args.settings:
            line += ["--ds", args.settings]
        line += djperf
    return line + args.tests


def run(args: argparse.Namespace, mode: str, out: Path) -> tuple[float, list[dict[str, Any]]]:
    journal = out / f"{mode}.jsonl"
    journal.unlink(missing_ok=True)
    env = {**os.environ, **dict(pair.split("=", 1) for pair in args.env)}
    sources = [str(args.djperf_src)] if args.djperf_src else []
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [*sources, str(HERE), env.get("PYTHONPATH", "")])
    )
    env["DJPERF_REALCODE_OUT"] = str(journal)
    env["DJPERF_REALCODE_MODE"] = mode
    report = out / f"{mode}-report.json"
    report.unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        command(args, mode, report),
        cwd=args.project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    (out / f"{mode}.log").write_text(done.stdout + done.stderr)
    if not journal.exists():
        raise SystemExit(f"the {mode} run wrote no results; its output is in {out / mode}.log")
    records = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    if mode == "plugin":
        records = with_report(records, report)
    return seconds, records


def with_report(records: list[dict[str, Any]], report: Path) -> list[dict[str, Any]]:
    """The journal's outcomes with the findings of djperf's own report, by
    test id (judged over the suite already: no eager-load sites needed)."""
    if not report.exists():
        raise SystemExit(f"the plugin run wrote no djperf report at {report}")
    by_test: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for finding in json.loads(report.read_text())["findings"]:
        by_test[finding.pop("test")].append(finding)
    for record in records:
        record["findings"] = by_test.pop(record["test"], [])
        record["eager_loads"] = []
    if by_test:
        # Findings of a test the journal does not name (a class set-up error).
        records += [{"test": t, "outcome": "?", "findings": f} for t, f in by_test.items()]
    return records


def used_sites(records: list[dict[str, Any]]) -> dict[str, int]:
    """Eager-load site key -> the tests that used it (a suite judges a site
    unused only when no test used it, as djperf's plugin will)."""
    used: dict[str, int] = defaultdict(int)
    for record in records:
        for site in record.get("eager_loads", []):
            if site["used"]:
                used[site["key"]] += 1
    return used


def _site_key(finding: dict[str, Any]) -> str | None:
    location, fix = finding.get("location"), finding.get("fix") or {}
    if finding["rule"] != "unused-eager-load" or not location:
        return None
    method = str(fix.get("method", "")).removeprefix("remove_")
    return (
        f"{location['path']}:{location['line']} {finding['model']} {method}({fix.get('lookup')!r})"
    )


def pairs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct (rule, location) pair, with what a reviewer needs."""
    used = used_sites(records)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        for finding in record["findings"]:
            location = finding.get("location") or {}
            where = f"{location.get('path')}:{location.get('line')}" if location else "unknown"
            key = (finding["rule"], where)
            entry = found.setdefault(
                key,
                {
                    "rule": finding["rule"],
                    "location": where,
                    "function": location.get("function") if location else None,
                    "severity": finding.get("severity"),
                    "in_tests": finding.get("in_tests", False),
                    "message": finding.get("message"),
                    "fix": (finding.get("fix") or {}).get("text"),
                    "origin": _where(finding.get("origin")),
                    "built": _where(finding.get("built")),
                    "findings": 0,
                    "tests": [],
                    # unused-eager-load: tests where the same site was used.
                    "used_in_other_tests": used.get(_site_key(finding) or "", 0),
                },
            )
            if finding.get("severity") in ("warning", "error") and entry["severity"] not in (
                "warning",
                "error",
            ):
                # A pair is a warning when any test made it one: review it as such.
                entry.update(
                    severity=finding.get("severity"),
                    in_tests=finding.get("in_tests", False),
                    message=finding.get("message"),
                    fix=(finding.get("fix") or {}).get("text"),
                    origin=_where(finding.get("origin")),
                    built=_where(finding.get("built")),
                )
            entry["findings"] += 1
            if record["test"] not in entry["tests"]:
                entry["tests"].append(record["test"])
    return sorted(found.values(), key=lambda e: (e["rule"], -len(e["tests"]), e["location"]))


def _where(location: dict[str, Any] | None) -> str | None:
    return f"{location['path']}:{location['line']}" if location else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--python", required=True, help="the project environment's python")
    parser.add_argument("--runner", choices=("django", "pytest"), required=True)
    parser.add_argument("--settings", help="the settings module, when the project needs one")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for both runs")
    parser.add_argument("--out", type=Path, help="keep the runs and pairs.json here")
    parser.add_argument("--label", help="the project's name in the output")
    parser.add_argument("--commit", help="the project's commit, printed with the results")
    parser.add_argument(
        "--djperf-src",
        type=Path,
        help="run this djperf source tree (its src/ directory) instead of the installed one",
    )
    parser.add_argument(
        "--own-capture",
        action="store_true",
        help="capture each test with this script's own wrapper (the whole pytest protocol, "
        "fixtures included) instead of djperf's plugin or runner (--djperf --djperf-report)",
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="print the tables again from the runs kept in --out, running nothing",
    )
    parser.add_argument(
        "--reuse-bare",
        action="store_true",
        help="take the bare run kept in --out from an earlier run (the project and its "
        "environment unchanged) and run only the capture",
    )
    argv = sys.argv[1:] if argv is None else argv
    # Everything after "--" goes to the test runner as it is.
    tests = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.tests = tests
    args.project = args.project.resolve()
    if os.sep in args.python:
        # The runs start in the project's directory: a relative path would miss.
        args.python = os.path.abspath(args.python)
    out = args.out.resolve() if args.out else Path(tempfile.mkdtemp(prefix="djperf-realcode-"))
    out.mkdir(parents=True, exist_ok=True)

    if args.again:
        # The tables again from the runs kept in --out, nothing run.
        times = json.loads((out / "times.json").read_text())
        bare_seconds, capture_seconds = times["bare"], times["capture"]
        bare, captured = (
            [json.loads(line) for line in (out / f"{mode}.jsonl").read_text().splitlines()]
            for mode in ("bare", times.get("mode", "capture"))
        )
    else:
        if args.reuse_bare:
            # The bare run does not depend on djperf: an earlier one serves.
            bare_seconds = json.loads((out / "times.json").read_text())["bare"]
            bare = [json.loads(line) for line in (out / "bare.jsonl").read_text().splitlines()]
        else:
            bare_seconds, bare = run(args, "bare", out)
        capture_seconds, captured = run(args, "capture" if args.own_capture else "plugin", out)
        (out / "times.json").write_text(
            json.dumps(
                {
                    "bare": bare_seconds,
                    "capture": capture_seconds,
                    "mode": "capture" if args.own_capture else "plugin",
                }
            )
        )

    label = args.label or args.project.name
    shown = command(args, "capture" if args.own_capture else "plugin", out / "plugin-report.json")
    print(f"{label}{f' @ {args.commit}' if args.commit else ''}: {' '.join(shown)}")
    if args.djperf_src:
        print(f"  djperf from {args.djperf_src}")
    outcomes = {record["test"]: record["outcome"] for record in bare}
    changed = [
        (record["test"], outcomes.get(record["test"], "absent"), record["outcome"])
        for record in captured
        if outcomes.get(record["test"], "absent") != record["outcome"]
    ]
    counted = Counter(record["outcome"] for record in captured)
    print(
        f"  tests: {len(captured)} ({', '.join(f'{n} {o}' for o, n in sorted(counted.items()))})"
        f"; time {bare_seconds:.0f} s bare, {capture_seconds:.0f} s under capture: "
        f"{capture_seconds / bare_seconds:.2f}x; changed outcomes: {len(changed)}"
    )
    for test, before, after in changed:
        print(f"    changed: {test}: {before} -> {after}")

    per_rule: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "findings": 0,
            "tests": set(),
            "pairs": set(),
            "warnings": set(),
            "in_tests": set(),
        }
    )
    used = used_sites(captured)
    # An eager load is judged over the suite, as djperf's plugin will: a site
    # that another test used is not reported unused (counted apart below).
    used_elsewhere = 0
    for record in captured:
        for finding in record["findings"]:
            if used.get(_site_key(finding) or "", 0):
                used_elsewhere += 1
                continue
            rule = per_rule[finding["rule"]]
            where = _where(finding.get("location")) or "unknown"
            rule["findings"] += 1
            rule["tests"].add(record["test"])
            rule["pairs"].add(where)
            if finding.get("severity") in ("warning", "error"):
                rule["warnings"].add(where)
            if finding.get("in_tests"):
                rule["in_tests"].add(where)
    print(
        f"  {'rule':<20} {'findings':>8} {'pairs':>6} {'tests':>6} {'warning pairs':>14} "
        f"{'test-driven pairs':>18}"
    )
    for name, rule in sorted(per_rule.items()):
        print(
            f"  {name:<20} {rule['findings']:8} {len(rule['pairs']):6} {len(rule['tests']):6} "
            f"{len(rule['warnings']):14} {len(rule['in_tests']):18}"
        )
    if used_elsewhere:
        print(
            f"  (not counted: {used_elsewhere} unused-eager-load findings whose site "
            "another test used)"
        )
    total_pairs = sum(len(rule["pairs"]) for rule in per_rule.values())
    print(f"  {'all':<20} {sum(r['findings'] for r in per_rule.values()):8} {total_pairs:6}")
    (out / "pairs.json").write_text(json.dumps(pairs(captured), indent=1))
    print(f"  runs and pairs.json in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
