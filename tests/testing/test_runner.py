"""The manage.py test runner as a black box: the throwaway shop project
(tests/testing/project.py) with a manage.py, run in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.testing.project import CLIENTS, line_of, write

pytestmark = pytest.mark.skipif(
    os.environ.get("DJPERF_TEST_DB", "sqlite") != "sqlite",
    reason="the throwaway project has its own SQLite database: one backend leg runs it",
)

SHOP_TESTS = """
from django.test import TestCase

from djperf.testing import DjperfTestCaseMixin
from shop import views
from tests.factories import make_books


class ShopTests(DjperfTestCaseMixin, TestCase):
    def setUp(self):
        make_books(5)

    def test_slow(self):
        self.assertEqual(len(views.titles_slow()), 5)

    def test_fast(self):
        self.assertEqual(len(views.titles_fast()), 5)

    def test_joined_read(self):
        views.titles_joined(True)

    def test_joined_unread(self):
        views.titles_joined(False)


class AssertionTests(DjperfTestCaseMixin, TestCase):
    def test_scaling_fast(self):
        self.assert_constant_queries(make_books, views.titles_fast)

    def test_max(self):
        make_books(2)
        with self.assert_max_queries(1):
            views.titles_fast()
"""

SLOW_AT = f"shop/views.py:{line_of('slow-loop')}"
RUNNER = 'TEST_RUNNER = "djperf.testing.DjperfRunner"\n'


@pytest.fixture
def shop(tmp_path):
    write(tmp_path, {"test_shop": SHOP_TESTS}, manage=True)
    settings = tmp_path / "shop_settings.py"
    settings.write_text(settings.read_text() + RUNNER)
    return tmp_path


def manage(root, *args):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [sys.executable, "manage.py", "test", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_without_a_flag_nothing_changes(shop):
    done = manage(shop)
    assert done.returncode == 0, done.stderr
    assert "Ran 6 tests" in done.stderr
    assert " djperf " not in done.stderr


def test_report_mode_summarizes_and_changes_no_outcome(shop):
    done = manage(shop, "--djperf", "--djperf-report", "djperf.json")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "OK" in lines
    start = lines.index(" djperf ".center(80, "="))
    summary = lines[start + 1 :]
    assert summary[0] == "1 problem (1 warning) found by 1 test"
    assert summary[3].startswith("n-plus-one  shop.Book.author  x5  ")
    assert summary[3].endswith("  [warning]")
    assert f"  at       {SLOW_AT}  <listcomp>" in summary or any(
        line.startswith(f"  at       {SLOW_AT}  ") for line in summary
    )
    assert "  fix      .select_related('author')" in summary
    assert "  tests    1: tests.test_shop.ShopTests.test_slow" in summary
    assert "unused-eager-load" not in done.stderr  # one test read the joined author
    report = json.loads((shop / "djperf.json").read_text())
    assert {(f["rule"], f["test"]) for f in report["findings"] if not f["in_tests"]} == {
        ("n-plus-one", "tests.test_shop.ShopTests.test_slow")
    }


def test_strict_fails_the_slow_test(shop):
    done = manage(shop, "--djperf-strict")
    assert done.returncode == 1
    assert "FAILED (failures=1)" in done.stderr
    failure = done.stderr.split("FAIL: test_slow (tests.test_shop.ShopTests", 1)[1]
    assert "djperf found 1 problem in this test (djperf strict mode):" in failure
    assert "  fix      .select_related('author')" in failure


def test_parallel_report_mode_merges_the_workers(shop):
    done = manage(shop, "--parallel", "2", "--djperf", "--djperf-report", "djperf.json")
    assert done.returncode == 0, done.stderr
    report = json.loads((shop / "djperf.json").read_text())
    assert ("n-plus-one", "tests.test_shop.ShopTests.test_slow") in {
        (f["rule"], f["test"]) for f in report["findings"]
    }
    assert "  tests    1: tests.test_shop.ShopTests.test_slow" in done.stderr.splitlines()


def test_parallel_strict_fails_the_slow_test(shop):
    done = manage(shop, "--parallel", "2", "--djperf-strict")
    assert done.returncode == 1
    assert "FAILED (failures=1)" in done.stderr
    assert "djperf found 1 problem in this test (djperf strict mode):" in done.stderr


def test_settings_turn_report_mode_on(shop):
    settings = shop / "shop_settings.py"
    settings.write_text(
        settings.read_text() + 'DJPERF = {"TEST_MODE": "report", "TEST_REPORT": "out.json"}\n'
    )
    done = manage(shop)
    assert done.returncode == 0, done.stderr
    assert " djperf ".center(80, "=") in done.stderr
    assert (shop / "out.json").exists()


def test_the_mixin_combines_with_a_projects_own_runner(shop):
    (shop / "shop" / "runner.py").write_text(
        "from django.test.runner import DiscoverRunner\n"
        "from djperf.testing import DjperfRunnerMixin\n\n\n"
        "class TheirRunner(DiscoverRunner):\n"
        "    def setup_test_environment(self, **kwargs):\n"
        "        super().setup_test_environment(**kwargs)\n"
        "        print('their runner ran')\n\n\n"
        "class Runner(DjperfRunnerMixin, TheirRunner):\n"
        "    pass\n"
    )
    settings = shop / "shop_settings.py"
    settings.write_text(
        settings.read_text().replace(RUNNER, 'TEST_RUNNER = "shop.runner.Runner"\n')
    )
    done = manage(shop, "--djperf-strict")
    assert "their runner ran" in done.stdout
    assert done.returncode == 1
    assert "djperf found 1 problem in this test (djperf strict mode):" in done.stderr


OFFLINE_TESTS = """
from django.test import SimpleTestCase

from shop import clients


class OfflineTests(SimpleTestCase):
    def test_calls_out(self):
        self.assertIsNone(clients.fetch_catalogue())

    def test_stays_home(self):
        self.assertFalse(clients.ping("127.0.0.1", 9))
"""


def test_offline_fails_a_test_that_reaches_another_host(shop):
    (shop / "tests" / "test_offline.py").write_text(OFFLINE_TESTS)
    done = manage(shop, "tests.test_offline", "--djperf-offline")
    assert done.returncode == 1
    assert "FAILED (failures=1)" in done.stderr
    failure = done.stderr.split("FAIL: test_calls_out (tests.test_offline.OfflineTests", 1)[1]
    assert "djperf offline mode: this test tried to reach 1 host other than this" in failure
    assert f"  api.example.com:80 (urllib) from shop/clients.py:{line_of('# fetch', CLIENTS)}" in (
        failure
    )


def test_offline_report_in_parallel_lists_the_tests(shop):
    (shop / "tests" / "test_offline.py").write_text(OFFLINE_TESTS)
    settings = shop / "shop_settings.py"
    settings.write_text(settings.read_text() + 'DJPERF = {"OFFLINE": "report"}\n')
    done = manage(shop, "--parallel", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "djperf offline: 1 test reached a host other than this machine:" in lines
    assert "  tests.test_offline.OfflineTests.test_calls_out" in lines


def test_the_allow_list_in_settings(shop):
    settings = shop / "shop_settings.py"
    entry = {"rule": "n-plus-one", "where": SLOW_AT, "reason": "ticket #412"}
    settings.write_text(settings.read_text() + f"DJPERF = {{'ALLOW': [{entry!r}]}}\n")
    done = manage(shop, "--djperf-strict")
    assert done.returncode == 0, done.stderr
    assert "1 more accepted by the allow-list (the report has them)" in done.stderr
    settings.write_text(
        settings.read_text().replace("'ticket #412'", "'ticket #412', 'until': '2020-01-31'")
    )
    expired = manage(shop, "--djperf")
    assert expired.returncode == 1
    assert "djperf: 1 allow-list entry past its date" in expired.stderr


def test_record_finds_its_test_without_any_djperf_option(shop):
    (shop / "tests" / "test_recorded.py").write_text(
        "from django.test import TestCase\n"
        "from djperf.testing import record\n"
        "from shop import views\n\n\n"
        "class BookTests(TestCase):\n"
        "    def test_listing(self):\n"
        "        with record(mode='once'):\n"
        "            views.titles_fast()\n"
    )
    done = manage(shop, "tests.test_recorded")
    assert done.returncode == 0, done.stderr
    assert (
        (shop / "tests" / "test_recorded.perf.yml")
        .read_text()
        .startswith("BookTests.test_listing:")
    )
