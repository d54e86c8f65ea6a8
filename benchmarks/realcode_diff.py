"""Did two runs of benchmarks/realcode.py give the same findings, test by test?

    .venv/bin/python benchmarks/realcode_diff.py OUT/PROJECT-before OUT/PROJECT-after [--show 5]

Reads each run's ``capture.jsonl`` (one line per test: its outcome and its
findings) and compares, per test, the outcome and the multiset of findings:
rule, location, severity, in_tests, count, fix text and message. Two things
in a message vary from run to run whatever djperf does, and are left out:

- times ("0.4 ms");
- the lines listed after "ran N times (" / "values (": when equal findings
  from several requests merge into one, the one named is the costliest,
  picked by its measured time.

It prints how many tests agree, and for the first ``--show`` that do not,
the findings only one run has. Run it on two runs of the same djperf first
(``--reuse-bare`` with the same ``--djperf-src``): what differs there is the
project's own randomness (random test data, time-dependent picks), the floor
against which a change is judged.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

_TIME = re.compile(r"\d+(?:\.\d+)? ?m?s\b")
_LISTED = re.compile(r"(times|values) \([^)]*\)")

Key = tuple[Any, ...]


def findings_by_test(out: Path) -> dict[str, tuple[str, Counter[Key]]]:
    """Each test's outcome and findings (normalized) in the run kept in `out`."""
    found: dict[str, tuple[str, Counter[Key]]] = {}
    with open(out / "capture.jsonl") as lines:
        for line in lines:
            record = json.loads(line)
            keys: Counter[Key] = Counter()
            for finding in record["findings"]:
                location = finding["location"]
                keys[
                    (
                        finding["rule"],
                        f"{location['path']}:{location['line']}" if location else None,
                        finding["severity"],
                        finding["in_tests"],
                        finding["count"],
                        finding["fix"]["text"] if finding["fix"] else None,
                        _LISTED.sub(r"\1 (...)", _TIME.sub("#", finding["message"])),
                    )
                ] += 1
            found[record["test"]] = (record["outcome"], keys)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--show", type=int, default=5, help="tests that differ to print")
    args = parser.parse_args(argv)
    before, after = findings_by_test(args.before), findings_by_test(args.after)
    differing = [
        test for test in sorted(set(before) | set(after)) if before.get(test) != after.get(test)
    ]
    print(
        f"{len(set(before) | set(after))} tests; same outcome and findings: "
        f"{len(set(before) | set(after)) - len(differing)}; different: {len(differing)}"
    )
    for test in differing[: args.show]:
        print(f"--- {test}")
        if test not in before or test not in after:
            print("    in one run only")
            continue
        (outcome_before, found_before), (outcome_after, found_after) = before[test], after[test]
        if outcome_before != outcome_after:
            print(f"    outcome {outcome_before} -> {outcome_after}")
        for key in found_before - found_after:
            print(f"    only before: {key[0]} at {key[1]} x{key[4]}: {key[6][:160]}")
        for key in found_after - found_before:
            print(f"    only after:  {key[0]} at {key[1]} x{key[4]}: {key[6][:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
