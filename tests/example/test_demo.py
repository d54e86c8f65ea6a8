"""`djperf demo`: the table of every scenario under djperf.capture()."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from shopsite import demo
from shopsite.scenarios import all_scenarios, get
from tests.example.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]


def test_runs_record_what_djperf_saw(seeded):
    [row] = demo.run_scenarios([get("pizzas.menu")])
    pizzas = seeded["pizzas.Pizza"]
    assert row.same_data is True
    assert row.slow.queries == pizzas + 1
    assert row.slow.lazy_loads == pizzas
    assert row.slow.relations == [("Pizza.toppings", pizzas)]
    assert row.optimized.queries == 2
    assert row.optimized.lazy_loads == 0
    assert row.slow.seconds > 0


def test_slow_version_is_caught_and_proved(seeded):
    [row] = demo.run_scenarios([get("pizzas.menu")])
    [finding] = row.slow.findings
    assert (finding.rule, finding.field) == ("n-plus-one", "toppings")
    assert finding.fix.text == ".prefetch_related('toppings')"
    assert row.optimized.findings == []
    [trial] = row.verification.trials
    assert trial.applied and trial.same_result
    assert trial.after.queries < trial.before.queries


def test_render(seeded):
    rows = demo.run_scenarios([get("pizzas.menu"), get("catalogue.review_list")])
    console = Console(width=160, record=True)
    demo.render(rows, console)
    text = console.export_text()
    assert "pizzas.menu" in text
    assert "catalogue.review_list" in text
    assert "n-plus-one  pizzas.Pizza.toppings" in text
    assert "fix      .prefetch_related('toppings')" in text
    assert "fix      .select_related('product__brand')" in text
    assert "proved   " in text
    assert "clean: no findings" in text


def test_unavailable_scenario_is_reported_not_fatal(seeded, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    [row] = demo.run_scenarios([get("media.autocomplete_prefixes")])
    assert row.unavailable.startswith("no Redis at redis://127.0.0.1:1/0")
    console = Console(width=120, record=True)
    demo.render([row], console)
    assert "media.autocomplete_prefixes  skipped: no Redis" in console.export_text()


@pytest.mark.skipif(
    os.environ.get("DJPERF_TEST_DB", "sqlite") != "sqlite",
    reason="the demo command runs on SQLite; once is enough",
)
def test_djperf_demo_command(tmp_path):
    # What `make demo` runs, end to end, on a throwaway SQLite file.
    env = {**os.environ, "DJPERF_SQLITE_DIR": str(tmp_path), "DJPERF_DB": "sqlite"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-m", "djperf", "demo", "--scale", "0.1", "--only", "pizzas"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "pizzas.menu" in result.stdout
    assert ".prefetch_related('toppings')" in result.stdout
    assert "clean: no findings" in result.stdout
    assert (tmp_path / "djperf_shop.sqlite3").exists()


# What `make demo` must show: each slow scenario caught by the rule that names
# its problem (at least these findings), each optimized one clean.
CAUGHT = {
    "catalogue.category_list": {("unused-column", "catalogue.Category", "seo_text")},
    "catalogue.category_menu": {("deferred-field", "catalogue.Category", "description")},
    "catalogue.product_detail": {("n-plus-one", "catalogue.Product", "brand")},
    "catalogue.product_list": {
        ("n-plus-one", "catalogue.Product", "brand"),
        ("n-plus-one", "catalogue.Product", "category"),
        ("n-plus-one", "catalogue.Product", "images"),
    },
    "catalogue.review_list": {
        ("n-plus-one", "catalogue.Review", "product"),
        ("n-plus-one", "catalogue.Product", "brand"),
        ("n-plus-one", "catalogue.Product", "images"),
    },
    "accounts.denormalize_profiles": {
        ("n-plus-one", "accounts.Profile", "user"),
        ("n-plus-one", "auth.User", "groups"),
        ("write-in-loop", "accounts.DenormProfileRecord", None),
    },
    "accounts.welcome_letters": {("n-plus-one", "accounts.Customer", "address")},
    "pizzas.menu": {("n-plus-one", "pizzas.Pizza", "toppings")},
    "orders.order_list": {
        ("n-plus-one", "orders.Order", "customer"),
        ("n-plus-one", "orders.Order", "lines"),
        ("n-plus-one", "orders.OrderLine", "product"),
    },
    "media.autocomplete_prefixes": {("cache-in-loop", None, None)},
    "mail.purge_old_emails": {("large-in-clause", "mail.Email", None)},
    "stats.daily_impressions": {("write-in-loop", "stats.DailyImpressionStats", None)},
    "bigdata.recompute_scores": {("write-in-loop", "bigdata.SomeModel", None)},
    "rivers.dashboard": {("http-no-timeout", None, None), ("sequential-http", None, None)},
    "users.cached_profiles": {("cache-in-loop", None, None), ("repeated-query", "auth.User", None)},
    "users.profiles_by_username": {("repeated-query", "auth.User", None)},
}


def test_the_table_covers_every_scenario():
    assert set(CAUGHT) == {scenario.name for scenario in all_scenarios()}


@pytest.mark.skipif(
    os.environ.get("DJPERF_TEST_DB", "sqlite") != "sqlite",
    reason="the demo runs on SQLite; once is enough",
)
@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_every_slow_scenario_is_caught_and_every_optimized_one_clean(seeded, name, settings):
    # The shop is seeded at a fifth of the demo's scale: the purge's IN list
    # (272 values in the demo) is then under the default 200.
    settings.DJPERF = {**settings.DJPERF, "THRESHOLDS": {"large-in-clause": {"count": 40}}}
    [row] = demo.run_scenarios([get(name)], prove=False)
    if row.unavailable:
        unavailable(row.unavailable)  # a missing server: fails under CI=true
    found = {(f.rule, f.model, f.field) for f in row.slow.findings}
    # A rule about calls (HTTP, cache) names no model; a write names no field.
    found |= {(rule, model, None) for rule, model, _ in found}
    found |= {(rule, None, None) for rule, _, _ in found}
    assert CAUGHT[name] <= found
    assert row.optimized.findings == []


def test_the_demo_shows_a_failing_scaling_test_beside_its_passing_twin(seeded):
    console = Console(width=100, record=True)
    assert demo.scaling_test(console) is True
    text = console.export_text()
    assert "  slow  FAILED" in text
    assert "    Expected the same number of queries at every scale, got " in text
    assert "      n-plus-one  fix: .select_related('customer')" in text
    assert "  optimized  passed" in text
    assert "djperf found" not in text  # the findings blocks are the table's, above


def test_the_demo_compares_the_six_ways_to_recompute_the_scores(seeded):
    from bigdata.models import SomeModel

    console = Console(width=100, record=True)
    outcomes = {o.method: o for o in demo.batch_comparison(console)}
    rows = SomeModel.objects.count()
    assert rows >= 100
    assert list(outcomes) == [
        "queryset",
        "iterator",
        "iterator_bulk",
        "paginator",
        "paginator_bulk",
        "djperf",
    ]
    assert {o.rows for o in outcomes.values()} == {rows}
    # One statement per row for the saving methods; djperf reads and writes
    # each chunk with one statement each (in this test's transaction, a
    # savepoint and its release around each chunk; a last empty read when the
    # rows fill the chunks exactly).
    batches = -(-rows // 500)
    assert outcomes["queryset"].statements == rows + 1
    assert outcomes["paginator"].statements == rows + 1 + batches  # COUNT, pages, saves
    assert 4 * batches <= outcomes["djperf"].statements <= 4 * batches + 3
    text = console.export_text()
    assert f"recompute_scores over {rows:,} rows" in text
    assert all(name in text for name in outcomes)
