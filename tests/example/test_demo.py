"""`djperf demo`: the table of every scenario under djperf.capture()."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from shopsite import demo
from shopsite.scenarios import get

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
