"""Carry the hand review's verdicts to a newer run of the same project.

    python benchmarks/precision_carry.py REVIEWED/pairs.json benchmarks/verdicts/PROJECT.tsv \
        NEW/pairs.json --out NEW-verdicts.tsv --todo NEW-todo.json

A warning pair of the new run keeps its verdict when its rule, location and
fix text are the ones the reviewer judged (in the reviewed run's pairs.json);
every other warning pair (a fix that changed, a new pair) goes to the todo
file, with the earlier verdict and fix when there was one, for the reviewer
to judge again. The carried lines go to --out; append the new verdicts to it
and benchmarks/precision_review.py prints the tables.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from precision_review import read_verdicts, warning_pairs


def carry(
    reviewed: list[dict[str, Any]],
    verdicts: dict[tuple[str, str], tuple[str, str, str]],
    new: list[dict[str, Any]],
) -> tuple[list[str], list[dict[str, Any]]]:
    """The carried verdict lines, and the pairs to review again."""
    judged = {(pair["rule"], pair["location"]): pair for pair in warning_pairs(reviewed)}
    carried, todo = [], []
    for pair in warning_pairs(new):
        key = (pair["rule"], pair["location"])
        before = judged.get(key)
        if key in verdicts and before is not None and before["fix"] == pair["fix"]:
            carried.append("\t".join((*key, *verdicts[key])))
            continue
        entry = dict(pair)
        if key in verdicts:
            entry["earlier_verdict"] = list(verdicts[key])
            entry["earlier_fix"] = before["fix"] if before is not None else None
        todo.append(entry)
    return carried, todo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reviewed", type=Path, help="pairs.json of the reviewed run")
    parser.add_argument("verdicts", type=Path, help="its verdicts (TSV)")
    parser.add_argument("new", type=Path, help="pairs.json of the newer run")
    parser.add_argument("--out", type=Path, required=True, help="the carried verdicts (TSV)")
    parser.add_argument("--todo", type=Path, required=True, help="the pairs to review (JSON)")
    args = parser.parse_args(argv)
    carried, todo = carry(
        json.loads(args.reviewed.read_text()),
        read_verdicts(args.verdicts),
        json.loads(args.new.read_text()),
    )
    args.out.write_text("".join(f"{line}\n" for line in carried))
    args.todo.write_text(json.dumps(todo, indent=1))
    again = sum(1 for entry in todo if "earlier_verdict" in entry)
    print(
        f"{len(carried) + len(todo)} warning pairs: {len(carried)} carried, {len(todo)} to "
        f"review ({again} judged before with another fix, {len(todo) - again} new)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
