"""SuiteFindings: findings of a whole run, judged over the suite, merged across processes."""

from __future__ import annotations

import dataclasses

from djperf.findings import EagerLoad, Finding, Fix, Location
from djperf.testing.suite import SuiteFindings, eager_load_key

SITE = Location("shop/views.py", 12, "book_list")


def unused(test_site=SITE):
    return Finding(
        rule="unused-eager-load",
        message="Book queryset asked for select_related 'author' ...",
        severity="warning",
        model="shop.Book",
        field="author",
        count=1,
        location=test_site,
        fix=Fix("remove_select_related", "author", "remove the select_related() call"),
    )


def load(used, rows=3):
    return EagerLoad(SITE, "shop.Book", "author", "select_related", rows, used)


def n_plus_one(count=6, in_tests=False):
    return Finding(
        rule="n-plus-one",
        message="Book.author was loaded one book at a time.",
        severity="info" if in_tests else "warning",
        model="shop.Book",
        field="author",
        count=count,
        location=Location("shop/views.py", 20, "titles"),
        fix=Fix("select_related", "author", ".select_related('author')"),
        in_tests=in_tests,
    )


def test_the_key_of_an_unused_eager_load_is_its_sites_key():
    assert eager_load_key(unused()) == load(False).key
    assert eager_load_key(n_plus_one()) is None


def test_an_eager_load_another_test_used_is_not_reported():
    suite = SuiteFindings()
    suite.add("test_a", [unused()], [load(False)])
    suite.add("test_b", [], [load(True)])
    assert suite.judged() == []


def test_an_eager_load_no_test_used_is_reported_with_the_tests_it_ran_in():
    suite = SuiteFindings()
    suite.add("test_a", [unused()], [load(False)])
    suite.add("test_b", [unused()], [load(False), load(False)])
    [problem] = suite.problems()
    assert problem.tests == ["test_a", "test_b"]
    assert problem.ran_in == 2
    assert "  ran in   2 tests, used in none" in suite.summary()


def test_problems_group_by_rule_and_line_keeping_the_most_repeated():
    suite = SuiteFindings()
    suite.add("test_a", [n_plus_one(count=4)], [])
    suite.add("test_b", [n_plus_one(count=9)], [])
    [problem] = suite.problems()
    assert problem.finding.count == 9
    assert problem.tests == ["test_a", "test_b"]


def test_the_summary_hides_test_code_unless_asked():
    suite = SuiteFindings()
    suite.add("test_a", [n_plus_one()], [])
    in_test = dataclasses.replace(
        n_plus_one(in_tests=True), location=Location("tests/test_shop.py", 8, "test_b")
    )
    suite.add("test_b", [in_test], [])
    lines = suite.summary()
    assert lines[0] == "1 problem (1 warning) found by 1 test"
    assert lines[1] == "1 more driven by test code only (--djperf-show-test-code shows it)"
    assert "tests/test_shop.py:8" not in "\n".join(lines)
    shown = suite.summary(show_test_code=True)
    assert shown[0] == "2 problems (1 warning, 1 info) found by 2 tests"
    assert any(line.startswith("  at       tests/test_shop.py:8  ") for line in shown)


def test_an_empty_run_says_so():
    assert SuiteFindings().summary() == ["0 problems found by 0 tests"]


def test_findings_survive_the_trip_between_processes():
    worker = SuiteFindings()
    worker.add("test_a", [unused(), n_plus_one()], [load(False)])
    worker.add("test_clean", [], [])  # nothing to send
    main = SuiteFindings()
    main.add("test_b", [], [load(True)])
    main.merge(worker.dumps())
    assert [t.test for t in main.tests] == ["test_b", "test_a"]
    assert main.judged() == [("test_a", n_plus_one())]


def test_the_report_gives_each_finding_its_test():
    suite = SuiteFindings()
    suite.add("tests/test_shop.py::test_a", [n_plus_one()], [])
    report = suite.report()
    assert report["tests"] == 1
    assert report["findings"] == [{"test": "tests/test_shop.py::test_a", **n_plus_one().to_dict()}]
