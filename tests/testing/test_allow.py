"""The allow-list: entries checked, matched by line, file or model, dated."""

from __future__ import annotations

import datetime

import pytest

from djperf.findings import Finding, Location
from djperf.testing.allow import AllowList, AllowListError, entries, from_pyproject

RULES = ["n-plus-one", "duplicate-query"]


def finding(rule="n-plus-one", path="shop/views.py", line=42, model="shop.Order", field="customer"):
    return Finding(
        rule=rule,
        message="m",
        severity="warning",
        model=model,
        field=field,
        location=Location(path, line, "order_list"),
    )


def entry(**kwargs):
    data = {"rule": "n-plus-one", "where": "shop/views.py:42", "reason": "legacy", **kwargs}
    [allowed] = entries([data], "ALLOW", RULES)
    return allowed


@pytest.mark.parametrize(
    "where", ["shop/views.py:42", "shop/views.py", "shop.Order.customer", "shop.Order"]
)
def test_an_entry_matches_a_line_a_file_or_what_the_finding_is_about(where):
    assert entry(where=where).matches(finding())


@pytest.mark.parametrize(
    ("where", "rule"),
    [
        ("shop/views.py:43", "n-plus-one"),
        ("shop/urls.py", "n-plus-one"),
        ("shop.Order.lines", "n-plus-one"),
        ("shop/views.py:42", "duplicate-query"),
    ],
)
def test_an_entry_matches_nothing_else(where, rule):
    assert not entry(where=where, rule=rule).matches(finding())


def test_any_rule():
    assert entry(rule="*").matches(finding(rule="duplicate-query"))


def test_until_is_a_date_and_past_it_the_entry_expired():
    dated = entry(until="2026-11-30")
    assert dated.until == datetime.date(2026, 11, 30)
    assert not dated.expired(datetime.date(2026, 11, 30))
    assert dated.expired(datetime.date(2026, 12, 1))
    assert not entry().expired(datetime.date(2100, 1, 1))
    listed = AllowList([dated, entry()])
    assert listed.expired(datetime.date(2026, 12, 4)) == [dated]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rule": "n-plus-one", "where": "x"}, r"ALLOW\[0\] needs reason: every accepted"),
        ({"rule": "n-plus-two", "where": "x", "reason": "r"}, "unknown rule id 'n-plus-two'"),
        ({"rule": "n-plus-one", "where": "x", "reason": "r", "why": "?"}, "unknown key.*why"),
        ({"rule": "n-plus-one", "where": "x", "reason": "r", "until": "soon"}, "must be a date"),
        ("n-plus-one", r"ALLOW\[0\] must be a mapping"),
    ],
)
def test_a_wrong_entry_says_which_and_why(data, message):
    with pytest.raises(AllowListError, match=message):
        entries([data], "ALLOW", RULES)


def test_the_list_itself_must_be_a_list():
    with pytest.raises(AllowListError, match="must be a list of entries"):
        entries({"rule": "n-plus-one"}, "ALLOW", RULES)


def test_pyproject_entries(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[project]\nname = 'x'\n\n"
        "[[tool.djperf.allow]]\n"
        'rule = "duplicate-query"\n'
        'where = "shop.Order.customer"\n'
        'reason = "cached by the CDN"\n'
        "until = 2027-03-01\n"
    )
    [allowed] = from_pyproject(pyproject, RULES)
    assert (allowed.rule, allowed.where, allowed.until) == (
        "duplicate-query",
        "shop.Order.customer",
        datetime.date(2027, 3, 1),
    )
    assert allowed.source == "pyproject.toml [tool.djperf.allow][0]"
    assert from_pyproject(tmp_path / "none.toml", RULES) == []


def test_the_reason_of_the_first_matching_entry():
    listed = AllowList([entry(where="shop/urls.py"), entry(reason="export, ticket #412")])
    assert listed.reason(finding()) == "export, ticket #412"
    assert listed.reason(finding(path="shop/other.py", model="shop.Item")) is None
