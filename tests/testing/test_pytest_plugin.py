"""The pytest plugin as a black box: a throwaway Django project (tests/testing/project.py)
run by pytest in a subprocess, its output lines and exit code asserted."""

from __future__ import annotations

import json
import os

import pytest

from tests.testing.project import CLIENTS, line_of, write

pytestmark = pytest.mark.skipif(
    os.environ.get("DJPERF_TEST_DB", "sqlite") != "sqlite",
    reason="the throwaway project has its own SQLite database: one backend leg runs it",
)

SHOP_TESTS = """
import pytest
from shop import views
from tests.factories import make_books
from shop.models import Book

pytestmark = pytest.mark.django_db


@pytest.fixture
def books():
    make_books(6)


def test_slow(books):
    assert len(views.titles_slow()) == 6


def test_fast(books):
    assert len(views.titles_fast()) == 6


def test_joined_read(books):
    views.titles_joined(True)


def test_joined_unread(books):
    views.titles_joined(False)


def test_loop_in_test(books):
    for book in Book.objects.all():
        Book.objects.filter(pk=book.pk).exists()
"""

SLOW_AT = f"shop/views.py:{line_of('slow-loop')}"
TEST_LOOP_LINE = (
    SHOP_TESTS.lstrip("\n").splitlines().index("        Book.objects.filter(pk=book.pk).exists()")
    + 1
)


@pytest.fixture
def shop(pytester, monkeypatch):
    # The project's own pytest.ini names its settings; ours must not leak in.
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    write(pytester.path, {"test_shop": SHOP_TESTS})
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess(*args)


def test_without_the_option_nothing_changes(shop):
    result = run(shop)
    result.assert_outcomes(passed=5)
    assert "= djperf =" not in result.stdout.str()


def test_summary_names_the_line_the_fix_and_the_tests(shop):
    result = run(shop, "--djperf")
    result.assert_outcomes(passed=5)  # outcomes unchanged
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*= djperf =*",
            "1 problem (1 warning) found by 1 test",
            "1 more driven by test code only (--djperf-show-test-code shows it)",
            "",
            "n-plus-one  shop.Book.author  x6  * ms  [[]warning]",
            "  Book.author was loaded one book at a time: 6 queries, *",
            f"  at       {SLOW_AT}  *",
            # (Python 3.11 names the comprehension and adds the origin row)
            "  fix      .select_related('author')",
            "  tests    1: tests/test_shop.py::test_slow",
        ]
    )
    # The joined site is read by one test and not the other: used, over the suite.
    assert "unused-eager-load" not in result.stdout.str()


@pytest.mark.parametrize("show", [[], ["--djperf-show-test-code"]])
def test_summary_fits_80_columns(shop, show):
    result = run(shop, "--djperf", *show)
    summary = result.stdout.str().split(" djperf ", 1)[1].splitlines()
    assert len(summary) > 5
    assert max(len(line) for line in summary) <= 80


def test_show_test_code_shows_the_test_loop(shop):
    result = run(shop, "--djperf", "--djperf-show-test-code")
    result.stdout.fnmatch_lines(
        [
            "repeated-query  shop.Book  x6  * ms  [[]info]",
            f"  at       tests/test_shop.py:{TEST_LOOP_LINE}  test_loop_in_test",
        ]
    )


def test_strict_fails_the_slow_test_with_its_findings(shop):
    result = run(shop, "--djperf-strict")
    result.assert_outcomes(passed=4, failed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*_ test_slow _*",
            "djperf found 1 problem in this test (djperf strict mode):",
            "n-plus-one  shop.Book.author  x6  * ms",
            "  fix      .select_related('author')",
            "*short test summary info*",
            "FAILED tests/test_shop.py::test_slow*",
        ]
    )


def test_marker_turns_strict_on_for_one_test(shop):
    shop.makepyfile(
        test_marked="""
        import pytest
        from shop import views
        from tests.factories import make_books

        @pytest.mark.django_db
        @pytest.mark.djperf(strict=True)
        def test_marked_slow():
            make_books(5)
            views.titles_slow()

        @pytest.mark.django_db
        @pytest.mark.djperf(strict=True, ignore=["n-plus-one"])
        def test_marked_ignored():
            make_books(5)
            views.titles_slow()
        """
    )
    result = run(shop, "test_marked.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_marked.py::test_marked_slow*"])


def test_marker_with_an_unknown_rule_says_which(shop):
    shop.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.djperf(ignore=["n-plus-two"])
        def test_marked():
            pass
        """
    )
    result = run(shop, "test_marked.py")
    result.assert_outcomes(errors=1)  # at set-up, before the test runs
    result.stdout.fnmatch_lines(["*names unknown rule id(s) n-plus-two; known: *n-plus-one*"])


def test_report_lists_every_finding_with_its_test(shop):
    result = run(shop, "--djperf-report", "out/djperf.json")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["djperf report: out/djperf.json"])
    report = json.loads((shop.path / "out" / "djperf.json").read_text())
    by_rule = {(f["rule"], f["test"]) for f in report["findings"]}
    assert ("n-plus-one", "tests/test_shop.py::test_slow") in by_rule
    assert ("repeated-query", "tests/test_shop.py::test_loop_in_test") in by_rule
    slow = next(f for f in report["findings"] if f["rule"] == "n-plus-one")
    assert slow["fix"]["text"] == ".select_related('author')"
    assert f"{slow['location']['path']}:{slow['location']['line']}" == SLOW_AT


def test_an_eager_load_no_test_used_fails_the_run_in_strict_mode(shop):
    shop.makepyfile(
        test_unused="""
        import pytest
        from shop import views
        from tests.factories import make_books

        @pytest.mark.django_db
        def test_never_read():
            make_books(3)
            views.titles_never_read()
        """
    )
    unused_at = f"shop/views.py:{line_of('unused-site')}"
    report = run(shop, "--djperf", "test_unused.py")
    report.assert_outcomes(passed=1)
    assert report.ret == 0
    report.stdout.fnmatch_lines(
        [
            "unused-eager-load  shop.Book.author  x1  [[]warning]",
            f"  at       {unused_at}  titles_never_read",
            "  ran in   1 tests, used in none",
        ]
    )
    strict = run(shop, "--djperf-strict", "test_unused.py")
    strict.assert_outcomes(passed=1)  # the test passes: only the run knows
    assert strict.ret == 1
    strict.stdout.fnmatch_lines(
        ["djperf strict mode: 1 eager load(s) that no test of the run used:", "unused-eager-load*"]
    )


def test_fixture_assertions_fail_with_the_statements_and_the_fix(shop):
    shop.makepyfile(
        test_counts="""
        import pytest
        from shop import views
        from tests.factories import make_books

        pytestmark = pytest.mark.django_db

        def test_num(djperf):
            make_books(3)
            with djperf.assert_num_queries(1):
                views.titles_slow()

        def test_max_passes(djperf):
            make_books(3)
            with djperf.assert_max_queries(1):
                views.titles_fast()

        def test_scaling_slow(djperf):
            djperf.assert_constant_queries(make_books, views.titles_slow)

        def test_scaling_fast(djperf):
            djperf.assert_constant_queries(make_books, views.titles_fast)
        """
    )
    result = run(shop, "test_counts.py")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "E*Expected 1 query, 4 were run (all databases; transaction statements not",
            "E*counted):",
            "E*3x  SELECT ... FROM shop_author WHERE shop_author.id = # LIMIT #",
            f"E*{SLOW_AT} * (x3)",
            "E*1x  SELECT shop_book.id, shop_book.title, shop_book.author_id FROM shop_book",
            "E*djperf found 1 problem in the block:",
            "E*n-plus-one  shop.Book.author  x3*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E*Expected the same number of queries at every scale, got 2 at 1 row, 22 at 21",
            "E*rows (all databases; transaction statements not counted):",
            "E*SELECT ... FROM shop_author WHERE shop_author.id = # LIMIT #",
            "E*1 -> 21 (+1/row)",
            f"E*at {SLOW_AT}  *",
            "E*n-plus-one  fix: .select_related('author')",
            "E*fix      .select_related('author')",
        ]
    )


def test_xdist_workers_merge_into_one_summary_and_report(shop):
    pytest.importorskip("xdist")
    shop.makepyfile(
        test_more="""
        import pytest
        from shop import views
        from tests.factories import make_books

        @pytest.mark.django_db
        def test_slow_again():
            make_books(4)
            views.titles_slow()
        """
    )
    result = run(shop, "-n", "2", "--djperf", "--djperf-report", "djperf.json")
    result.assert_outcomes(passed=6)
    # Which worker ran which test varies: the tests line names both, in any order.
    result.stdout.fnmatch_lines(
        ["n-plus-one  shop.Book.author  x6  * ms  [[]warning]", "  tests    2: *"]
    )
    report = json.loads((shop.path / "djperf.json").read_text())
    tests = {f["test"] for f in report["findings"] if f["rule"] == "n-plus-one"}
    assert tests == {"tests/test_shop.py::test_slow", "test_more.py::test_slow_again"}


OFFLINE_TESTS = """
import socket

from shop import clients


def test_calls_out():
    assert clients.fetch_catalogue() is None  # the code swallows the refusal


def test_loopback_is_this_machine():
    server = socket.create_server(("127.0.0.1", 0))
    try:
        assert clients.ping("127.0.0.1", server.getsockname()[1])
    finally:
        server.close()


def test_pings_a_far_host():
    clients.ping("192.0.2.1", 9)
"""


def test_offline_fails_a_test_that_reaches_another_host(shop):
    shop.makepyfile(test_offline=OFFLINE_TESTS)
    fetch_at = f"shop/clients.py:{line_of('# fetch', CLIENTS)}"
    result = run(shop, "--djperf-offline", "test_offline.py")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_calls_out _*",
            "djperf offline mode: this test tried to reach 1 host other than this machine",
            f"  api.example.com:80 (urllib) from {fetch_at}",
            "*= djperf =*",
            "djperf offline: 2 tests tried to reach (refused) a host other than this machine:",
            "  test_offline.py::test_calls_out",
            "  test_offline.py::test_pings_a_far_host",
            f"    192.0.2.1:9 from shop/clients.py:{line_of('# ping', CLIENTS)}",
        ]
    )


def test_offline_allows_the_hosts_named(shop):
    shop.makepyfile(test_offline=OFFLINE_TESTS)
    result = run(shop, "--djperf-offline", "--djperf-offline-allow", "192.0.2.1", "test_offline.py")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_offline.py::test_calls_out*"])


def test_offline_report_mode_lists_the_tests_and_fails_none(shop):
    shop.makepyfile(test_offline=OFFLINE_TESTS.replace("test_calls_out", "skipped_calls_out"))
    result = run(shop, "--djperf-offline-report", "test_offline.py")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "djperf offline: 1 test reached a host other than this machine:",
            "  test_offline.py::test_pings_a_far_host",
            "    192.0.2.1:9 from shop/clients.py:*",
        ]
    )


ALLOWED = f"""
[[tool.djperf.allow]]
rule = "n-plus-one"
where = "{SLOW_AT}"
reason = "the slow listing, rewritten in ticket #412"
"""


def test_an_allowed_finding_fails_no_test_and_is_counted(shop):
    (shop.path / "pyproject.toml").write_text(ALLOWED)
    result = run(shop, "--djperf-strict", "--djperf-report", "djperf.json")
    result.assert_outcomes(passed=5)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["0 problems found by 0 tests", "1 more accepted by the allow-list (the report has them)"]
    )
    report = json.loads((shop.path / "djperf.json").read_text())
    [allowed] = report["allowed"]
    assert allowed["allowed"] == "the slow listing, rewritten in ticket #412"
    assert allowed["test"] == "tests/test_shop.py::test_slow"


def test_an_entry_past_its_date_fails_the_run(shop):
    (shop.path / "pyproject.toml").write_text(ALLOWED + "until = 2020-01-31\n")
    result = run(shop, "--djperf")
    result.assert_outcomes(passed=5)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "djperf: 1 allow-list entry past its date: fix the finding, or extend the date",
            "  with a reason:",
            f"  n-plus-one at {SLOW_AT} (the slow listing, rewritten in ticket #412,",
            "    until 2020-01-31; pyproject.toml [[]tool.djperf.allow][[]0])",
        ]
    )


def test_a_wrong_entry_stops_the_run_with_what_to_fix(shop):
    (shop.path / "pyproject.toml").write_text(ALLOWED.replace("reason", "why"))
    result = run(shop, "--djperf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: djperf: *[[]0] has unknown key(s) why; known: *"])


RECORDED_TESTS = """
import pytest
from djperf.testing import record
from shop import views
from tests.factories import make_books

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("n", [1, 2])
def test_listing(djperf, n):
    make_books(n)
    with djperf.record():
        views.titles_fast()


def test_two_blocks(djperf):
    with djperf.record():
        views.titles_fast()
    with record():
        views.titles_never_read()
"""


def test_records_written_once_then_compared(shop, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    shop.makepyfile(test_recorded=RECORDED_TESTS)
    first = run(shop, "test_recorded.py")
    first.assert_outcomes(passed=3)
    written = (shop.path / "test_recorded.perf.yml").read_text()
    assert written.splitlines() == [
        "test_listing[1]:",
        "- 'db: SELECT shop_book.id, shop_book.title, shop_book.author_id, shop_author.id, "
        "shop_author.name FROM shop_book INNER JOIN shop_author ON (shop_book.author_id = "
        "shop_author.id)'",
        "test_listing[2]:",
        "- 'db: SELECT shop_book.id, shop_book.title, shop_book.author_id, shop_author.id, "
        "shop_author.name FROM shop_book INNER JOIN shop_author ON (shop_book.author_id = "
        "shop_author.id)'",
        "test_two_blocks:",
        "- 'db: SELECT shop_book.id, shop_book.title, shop_book.author_id, shop_author.id, "
        "shop_author.name FROM shop_book INNER JOIN shop_author ON (shop_book.author_id = "
        "shop_author.id)'",
        "test_two_blocks.2:",
        "- 'db: SELECT shop_book.id, shop_book.title, shop_book.author_id, shop_author.id, "
        "shop_author.name FROM shop_book INNER JOIN shop_author ON (shop_book.author_id = "
        "shop_author.id)'",
    ]
    run(shop, "test_recorded.py").assert_outcomes(passed=3)
    # The code changes: the listing reads each author one at a time.
    views = shop.path / "shop" / "views.py"
    views.write_text(
        views.read_text().replace(
            'return [(b.title, b.author.name) for b in Book.objects.select_related("author")]',
            "return [(b.title, b.author.name) for b in Book.objects.all()]  # changed",
        )
    )
    changed = run(shop, "test_recorded.py")
    changed.assert_outcomes(failed=3)
    changed.stdout.fnmatch_lines(
        [
            "*_ test_listing?2? _*",
            "E*djperf: the block's operations differ from its performance record",
            "E*  - db: SELECT ... FROM shop_book INNER JOIN shop_author ON (shop_book.autho ...",
            "E*  + db: SELECT shop_book.id, shop_book.title, shop_book.author_id FROM shop_book",
            "E*      from shop/views.py:*  titles_fast",
            "E*  + db: SELECT ... FROM shop_author WHERE shop_author.id = # LIMIT #",
        ]
    )
    run(shop, "test_recorded.py", "--djperf-record=overwrite").assert_outcomes(passed=3)
    run(shop, "test_recorded.py").assert_outcomes(passed=3)


def test_on_ci_a_missing_record_fails(shop, monkeypatch):
    monkeypatch.setenv("CI", "true")
    shop.makepyfile(test_recorded=RECORDED_TESTS)
    result = run(shop, "test_recorded.py")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["E*djperf: no performance record for test_recorded.perf.yml, *"])
    assert not (shop.path / "test_recorded.perf.yml").exists()


def test_records_are_written_safely_by_xdist_workers(shop, monkeypatch):
    pytest.importorskip("xdist")
    monkeypatch.delenv("CI", raising=False)
    many = RECORDED_TESTS.replace("[1, 2]", "list(range(12))")
    shop.makepyfile(test_recorded=many)
    run(shop, "-n", "2", "test_recorded.py").assert_outcomes(passed=13)
    written = (shop.path / "test_recorded.perf.yml").read_text()
    keys = [line for line in written.splitlines() if not line.startswith("-")]
    assert len(keys) == 14  # 12 listings, and the two blocks of test_two_blocks


def test_prune_removes_the_records_of_tests_that_are_gone(shop, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    shop.makepyfile(test_recorded=RECORDED_TESTS)
    run(shop, "test_recorded.py").assert_outcomes(passed=3)
    shop.makepyfile(test_recorded=RECORDED_TESTS.replace("def test_two_blocks", "def two_blocks"))
    result = run(shop, "test_recorded.py", "--djperf-prune", "-k", "listing")
    result.stdout.fnmatch_lines(
        [
            "djperf: pruned 2 record(s) of tests that no longer exist",
            "  test_recorded.perf.yml: test_two_blocks",
            "  test_recorded.perf.yml: test_two_blocks.2",
        ]
    )
    assert "test_listing[1]" in (shop.path / "test_recorded.perf.yml").read_text()


def test_strict_keeps_an_xfail_strict_test_failing_when_it_passes(shop):
    shop.makepyfile(
        test_xfail="""
        import pytest
        from shop import views
        from tests.factories import make_books

        @pytest.mark.django_db
        @pytest.mark.xfail(strict=True, reason="believed broken")
        def test_passes_with_findings():
            make_books(5)
            views.titles_slow()
        """
    )
    result = run(shop, "--djperf-strict", "test_xfail.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*believed broken*"])


ASYNC_TESTS = """
import http.server
import threading

import pytest

from shop import clients


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def local_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.mark.anyio
async def test_calls_without_timeout(local_server):
    clients.read_page(local_server)
"""


def test_an_async_test_with_an_async_fixture_is_captured(shop):
    pytest.importorskip("anyio")
    shop.makepyfile(test_async=ASYNC_TESTS)
    result = run(shop, "--djperf-strict", "test_async.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["djperf found 1 problem in this test*", "http-no-timeout*"])


def test_prune_of_a_part_of_the_suite_keeps_the_records_of_the_rest(shop, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    shop.makepyfile(test_recorded=RECORDED_TESTS)
    run(shop, "test_recorded.py").assert_outcomes(passed=3)
    result = run(shop, "test_recorded.py::test_listing", "--djperf-prune")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["djperf: pruned 0 record(s) of tests that no longer exist"])
    assert "test_two_blocks.2" in (shop.path / "test_recorded.perf.yml").read_text()


def test_prune_under_xdist(shop, monkeypatch):
    pytest.importorskip("xdist")
    monkeypatch.delenv("CI", raising=False)
    shop.makepyfile(test_recorded=RECORDED_TESTS)
    run(shop, "test_recorded.py").assert_outcomes(passed=3)
    shop.makepyfile(test_recorded=RECORDED_TESTS.replace("def test_two_blocks", "def two_blocks"))
    result = run(shop, "-n", "2", "test_recorded.py", "--djperf-prune")
    result.stdout.fnmatch_lines(["djperf: pruned 2 record(s) of tests that no longer exist"])


def test_a_unittest_test_case_keeps_its_record_key_under_pytest(shop, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    shop.makepyfile(
        test_cases="""
        from django.test import TestCase
        from djperf.testing import record
        from shop import views

        class BookTests(TestCase):
            def test_listing(self):
                with record():
                    views.titles_fast()
        """
    )
    run(shop, "test_cases.py").assert_outcomes(passed=1)
    assert (shop.path / "test_cases.perf.yml").read_text().startswith("BookTests.test_listing:")


def test_the_allow_list_applies_to_a_marked_test_without_options(shop):
    (shop.path / "pyproject.toml").write_text(ALLOWED)
    shop.makepyfile(
        test_marked="""
        import pytest
        from shop import views
        from tests.factories import make_books

        @pytest.mark.django_db
        @pytest.mark.djperf(strict=True)
        def test_marked_slow():
            make_books(5)
            views.titles_slow()
        """
    )
    run(shop, "test_marked.py").assert_outcomes(passed=1)


def test_a_report_that_cannot_be_written_says_so_and_breaks_nothing(shop):
    (shop.path / "blocked").write_text("a file, not a directory")
    result = run(shop, "--djperf-report", "blocked/djperf.json")
    result.assert_outcomes(passed=5)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["djperf: could not write the report blocked/djperf.json: *"])
