"""Every rule has its page, and the pages state the defaults the code uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from djperf.detect import registry

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
CATALOGUE = [
    "n-plus-one",
    "deferred-field",
    "repeated-query",
    "duplicate-query",
    "unused-eager-load",
    "prefetch-bypassed",
    "write-in-loop",
    "large-in-clause",
    "http-no-timeout",
    "sequential-http",
    "repeated-http",
    "cache-in-loop",
]
# Rules djperf adds to the catalogue (DESIGN.md: "add rules freely").
ADDED = ["unused-column"]
RULES = CATALOGUE + ADDED


def test_every_runtime_rule_of_the_catalogue_is_registered():
    assert sorted(RULES) == sorted(registry.rules())


@pytest.mark.parametrize("rule", RULES)
def test_rule_has_a_page(rule):
    page = (DOCS / f"{rule}.md").read_text()
    assert page.startswith(f"# {rule}\n")
    for part in ("**What.**", "**Why it costs.**", "**The fix.**", "**Thresholds.**"):
        assert part in page, f"{rule}.md lacks {part}"


@pytest.mark.parametrize("rule", RULES)
def test_index_states_the_defaults(rule):
    index = (DOCS / "index.md").read_text()
    row = next(line for line in index.splitlines() if line.startswith(f"| [{rule}]"))
    stated = dict(re.findall(r"(\w+) ([\d.]+)", row.split("|")[3]))
    assert {k: float(v) for k, v in stated.items()} == {
        k: float(v) for k, v in registry.defaults(rule).items()
    }
