"""Every rule is three files and an index row, held together here.

The registry (one module per rule under djperf/detect/rules/) and the table of
docs/rules/index.md must name the same rules, each with its docs page, its
test module and the default thresholds the code uses. No third list is kept
by hand: a rule added, renamed or removed in one place fails here until the
others follow.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from djperf.detect import registry

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "rules"
RULE_MODULES = ROOT / "src" / "djperf" / "detect" / "rules"
RULE_TESTS = ROOT / "tests" / "detect" / "rules"
_ROW = re.compile(r"^\| \[([a-z0-9-]+)\]\(([a-z0-9-]+)\.md\) \|")


def _index_rows() -> dict[str, str]:
    """rule id -> its row in docs/rules/index.md."""
    rows = {}
    for line in (DOCS / "index.md").read_text().splitlines():
        match = _ROW.match(line)
        if match:
            assert match.group(1) == match.group(2), f"{line}: the link is not {match.group(1)}.md"
            rows[match.group(1)] = line
    return rows


RULES = registry.rules()


def test_the_index_and_the_registry_name_the_same_rules():
    assert sorted(_index_rows()) == RULES


def test_each_rule_module_is_named_after_its_id():
    modules = sorted(
        path.stem.replace("_", "-")
        for path in RULE_MODULES.glob("*.py")
        if not path.name.startswith("_")
    )
    assert modules == RULES


@pytest.mark.parametrize("rule", RULES)
def test_rule_has_a_page(rule):
    page = (DOCS / f"{rule}.md").read_text()
    assert page.startswith(f"# {rule}\n")
    for part in ("**What.**", "**Why it costs.**", "**The fix.**", "**Thresholds.**"):
        assert part in page, f"{rule}.md lacks {part}"


@pytest.mark.parametrize("rule", RULES)
def test_rule_has_a_test_module(rule):
    path = RULE_TESTS / f"test_{rule.replace('-', '_')}.py"
    assert path.is_file(), f"no {path.relative_to(ROOT)}"


@pytest.mark.parametrize("rule", RULES)
def test_index_states_the_defaults(rule):
    row = _index_rows()[rule]
    stated = dict(re.findall(r"(\w+) ([\d.]+)", row.split("|")[3]))
    assert {k: float(v) for k, v in stated.items()} == {
        k: float(v) for k, v in registry.defaults(rule).items()
    }


@pytest.mark.parametrize("rule", RULES)
def test_a_rule_builds_its_findings_through_its_rule_object(rule):
    """rule.finding(...) stamps the id: a Finding(...) call or a rule="..."
    literal in a rule module could name another rule."""
    path = RULE_MODULES / f"{rule.replace('-', '_')}.py"
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            assert not (isinstance(node.func, ast.Name) and node.func.id == "Finding"), (
                f"{path.name}:{node.lineno} builds a Finding directly: use rule.finding(...)"
            )
            assert not any(keyword.arg == "rule" for keyword in node.keywords), (
                f"{path.name}:{node.lineno} passes rule=...: the Rule stamps its id"
            )
