"""benchmarks/precision_review.py: the review totals come from the verdicts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import precision_review


def _pair(rule: str, location: str, severity: str = "warning", used: int = 0) -> dict[str, object]:
    return {
        "rule": rule,
        "location": location,
        "severity": severity,
        "used_in_other_tests": used,
        "tests": ["t1", "t2"],
    }


def test_totals_count_only_warning_pairs_with_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = tmp_path / "pairs.json"
    pairs.write_text(
        json.dumps(
            [
                _pair("n-plus-one", "app/views.py:10"),
                _pair("n-plus-one", "app/views.py:20"),
                _pair("write-in-loop", "app/models.py:5"),
                _pair("duplicate-query", "app/views.py:30", severity="info"),
                _pair("unused-eager-load", "app/views.py:40", used=3),
            ]
        )
    )
    verdicts = tmp_path / "verdicts.tsv"
    verdicts.write_text(
        "# rule\tlocation\tverdict\tfix\tnote\n"
        "n-plus-one\tapp/views.py:10\treal\tright\tselect_related\n"
        "n-plus-one\tapp/views.py:20\treal\tchanges\tkeep the filter\n"
        "duplicate-query\tapp/views.py:30\treal\tright\tan info pair\n"
    )
    missing = tmp_path / "missing.tsv"

    precision_review.main([str(pairs), str(verdicts), "--missing", str(missing)])

    out, err = capsys.readouterr()
    assert "| n-plus-one | `app/views.py:10` | 2 | real | right | select_related |" in out
    assert "Warning pairs: 3, reviewed 2: real 2 (100%)" in out
    assert "right as written 1 (50%)" in out
    assert "right with changes 1" in out
    assert "no verdict: write-in-loop app/models.py:5" in err
    assert "verdict for no warning pair: duplicate-query app/views.py:30" in err
    assert missing.read_text() == "write-in-loop\tapp/models.py:5\t\t\t\n"


def test_an_unknown_verdict_is_refused(tmp_path: Path) -> None:
    verdicts = tmp_path / "verdicts.tsv"
    verdicts.write_text("n-plus-one\tapp/views.py:10\tmaybe\tright\t\n")
    with pytest.raises(SystemExit, match="unknown"):
        precision_review.read_verdicts(verdicts)


def test_verdicts_carry_only_to_pairs_whose_fix_is_unchanged(tmp_path: Path) -> None:
    import precision_carry

    reviewed = [
        {**_pair("n-plus-one", "app/views.py:10"), "fix": ".select_related('a')"},
        {**_pair("duplicate-query", "app/views.py:20"), "fix": "keep it"},
    ]
    new = [
        {**_pair("n-plus-one", "app/views.py:10"), "fix": ".select_related('a')"},
        {**_pair("duplicate-query", "app/views.py:20"), "fix": "make it a cached_property"},
        {**_pair("write-in-loop", "app/models.py:5"), "fix": "bulk_create"},
    ]
    verdicts = {
        ("n-plus-one", "app/views.py:10"): ("real", "right", "joins"),
        ("duplicate-query", "app/views.py:20"): ("real", "changes", "a property"),
    }
    carried, todo = precision_carry.carry(reviewed, verdicts, new)
    assert carried == ["n-plus-one\tapp/views.py:10\treal\tright\tjoins"]
    assert [(t["rule"], t.get("earlier_verdict"), t.get("earlier_fix")) for t in todo] == [
        ("duplicate-query", ["real", "changes", "a property"], "keep it"),
        ("write-in-loop", None, None),
    ]


def test_the_warning_pairs_kept_carry_like_the_run(tmp_path, capsys):
    # --keep writes the judged texts; precision_carry reads them as a run's pairs.json.
    import precision_carry

    pairs = tmp_path / "pairs.json"
    pairs.write_text(
        json.dumps(
            [
                {
                    "rule": "n-plus-one",
                    "location": "a.py:1",
                    "severity": "warning",
                    "tests": ["t1"],
                    "fix": "one",
                    "message": "m",
                },
                {
                    "rule": "duplicate-query",
                    "location": "a.py:2",
                    "severity": "info",
                    "tests": ["t2"],
                    "fix": "two",
                    "message": "m",
                },
            ]
        )
    )
    verdicts = tmp_path / "verdicts.tsv"
    verdicts.write_text("n-plus-one\ta.py:1\treal\tright\tok\n")
    kept = tmp_path / "kept.json"
    precision_review.main([str(pairs), str(verdicts), "--keep", str(kept)])
    assert [p["location"] for p in json.loads(kept.read_text())] == ["a.py:1"]
    capsys.readouterr()
    carried, todo = tmp_path / "carried.tsv", tmp_path / "todo.json"
    precision_carry.main(
        [str(kept), str(verdicts), str(pairs), "--out", str(carried), "--todo", str(todo)]
    )
    assert carried.read_text() == "n-plus-one\ta.py:1\treal\tright\tok\n"
    assert json.loads(todo.read_text()) == []
