"""The hand review of a real project's findings, as the tables of docs/precision.md.

    python benchmarks/precision_review.py OUT/pairs.json benchmarks/verdicts/PROJECT.tsv

(benchmarks/verdicts/PROJECT.tsv is the review of the latest run;
PROJECT-5f923bf.tsv the first full review, at that commit.)

``pairs.json`` is what ``benchmarks/realcode.py --out OUT`` keeps: each distinct
(rule, location) pair with its message and fix. The verdicts file is the
reviewer's: one line per reviewed pair, tab-separated::

    rule  location  verdict  fix  note

with ``verdict`` one of real, test-only, wrong, unsettled and ``fix`` one of
right (applies as written), says-why (no code, and says why not), changes
(right with changes), wrong, none. It prints the review table of the
warning-level pairs (the ones the issue's bar is about) and the totals, and
lists on stderr the warning pairs that have no verdict yet (``--missing FILE``
appends them to FILE as lines to fill in) and the verdicts that no longer
match a pair. ``--keep FILE`` writes the warning pairs to FILE (kept beside
the verdicts as ``PROJECT-pairs.json``: the texts they judged, which
``precision_carry.py`` reads as a run's ``pairs.json`` when the run is
gone). Pairs whose eager-load site another test used are not warning pairs:
the suite is judged as a whole, as realcode.py counts it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

VERDICTS = ("real", "test-only", "wrong", "unsettled")
FIXES = ("right", "says-why", "changes", "wrong", "none")


def warning_pairs(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        pair
        for pair in pairs
        if pair["severity"] in ("warning", "error") and not pair.get("used_in_other_tests")
    ]


def read_verdicts(path: Path) -> dict[tuple[str, str], tuple[str, str, str]]:
    verdicts: dict[tuple[str, str], tuple[str, str, str]] = {}
    if not path.exists():
        return verdicts
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) < 4:
            raise SystemExit(f"{path}:{number}: expected rule, location, verdict, fix, note")
        rule, location, verdict, fix = cells[:4]
        note = cells[4] if len(cells) > 4 else ""
        if verdict not in VERDICTS or fix not in FIXES:
            raise SystemExit(f"{path}:{number}: verdict {verdict!r} or fix {fix!r} unknown")
        verdicts[(rule, location)] = (verdict, fix, note)
    return verdicts


def _percent(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.0f}%)" if whole else "0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path, help="pairs.json of a realcode.py run")
    parser.add_argument("verdicts", type=Path, help="the reviewer's verdicts (TSV)")
    parser.add_argument("--missing", type=Path, help="append unreviewed warning pairs here")
    parser.add_argument(
        "--keep",
        type=Path,
        help="write the warning pairs here (the texts the verdicts judged, for the next carry)",
    )
    args = parser.parse_args(argv)

    pairs = warning_pairs(json.loads(args.pairs.read_text()))
    if args.keep is not None:
        args.keep.write_text(json.dumps(pairs, indent=1, sort_keys=True) + "\n")
    verdicts = read_verdicts(args.verdicts)
    rows, missing = [], []
    for pair in pairs:
        key = (pair["rule"], pair["location"])
        if key in verdicts:
            rows.append((pair, *verdicts[key]))
        else:
            missing.append(pair)

    print("| rule | location | tests | verdict | fix | note |")
    print("|---|---|---:|---|---|---|")
    for pair, verdict, fix, note in rows:
        print(
            f"| {pair['rule']} | `{pair['location']}` | {len(pair['tests'])} "
            f"| {verdict} | {fix} | {note.replace('|', '/')} |"
        )
    seen = Counter(verdict for _, verdict, _, _ in rows)
    fixes = Counter(fix for _, verdict, fix, _ in rows if verdict == "real")
    real = seen["real"]
    print()
    print(
        f"Warning pairs: {len(pairs)}, reviewed {len(rows)}: real {_percent(real, len(rows))}, "
        f"test-only {seen['test-only']}, wrong {seen['wrong']}, unsettled {seen['unsettled']}."
    )
    print(
        f"Fixes of the real ones: right as written {_percent(fixes['right'], real)}, "
        f"says why not {fixes['says-why']}, right with changes {fixes['changes']}, "
        f"wrong {fixes['wrong']}, none {fixes['none']}."
    )

    for pair in missing:
        print(f"no verdict: {pair['rule']} {pair['location']}", file=sys.stderr)
    reviewed = {(pair["rule"], pair["location"]) for pair in pairs}
    for rule, location in sorted(set(verdicts) - reviewed):
        print(f"verdict for no warning pair: {rule} {location}", file=sys.stderr)
    if args.missing and missing:
        with args.missing.open("a") as lines:
            for pair in missing:
                lines.write(f"{pair['rule']}\t{pair['location']}\t\t\t\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
