"""`djperf demo`: every scenario of the shop, slow and optimized, under djperf.

``main()`` migrates and seeds the shop's database (SQLite unless DJPERF_DB
says otherwise) and runs both versions of every scenario inside
``djperf.capture()``. It prints one table (queries, time, lazy loads and
findings of each version, and whether both returned the same data), then for
each scenario the findings of its slow version, with the fix for each and
the proof from ``djperf.verify()``, and the findings of its optimized version,
which should be none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.management import call_command
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import djperf
from bigdata.compare import CHUNK_SIZE, Outcome, compare
from djperf import Finding, report
from djperf.testing import assert_constant_queries
from shopsite.factories import make_orders
from shopsite.pages import fetch_html
from shopsite.scenarios import (
    METRICS,
    Scenario,
    ScenarioUnavailable,
    Version,
    all_scenarios,
    execute,
)
from shopsite.seed import seed_shop


@dataclass(frozen=True)
class Run:
    """One version of one scenario, as djperf recorded it."""

    queries: int
    seconds: float
    lazy_loads: int
    # The relations loaded lazily, most frequent first: [("Product.brand", 40), ...]
    relations: list[tuple[str, int]]
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    slow: Run | None
    optimized: Run | None
    same_data: bool | None
    unavailable: str | None = None
    verification: djperf.Verification | None = None


def run_version(scenario: Scenario, version: Version) -> tuple[Run, object]:
    scope = djperf.capture()
    result = execute(scenario, version, around=lambda: scope)
    recording = scope.recording
    assert recording is not None
    relations = Counter(
        f"{load.model.split('.')[-1]}.{load.field}" for load in recording.lazy_loads
    )
    run = Run(
        queries=len(recording.queries),
        seconds=recording.duration,
        lazy_loads=len(recording.lazy_loads),
        relations=relations.most_common(),
        findings=list(recording.findings),
    )
    return run, result


def run_scenarios(scenarios: Iterable[Scenario], *, prove: bool = True) -> list[Row]:
    """Both versions of each scenario; with `prove`, verify the slow one's fixes."""
    rows = []
    for scenario in scenarios:
        try:
            slow, slow_result = run_version(scenario, "slow")
            optimized, optimized_result = run_version(scenario, "optimized")
            verification = (
                djperf.verify(lambda s=scenario: execute(s, "slow"), slow.findings, runs=3)
                if prove and slow.findings
                else None
            )
        except ScenarioUnavailable as error:
            rows.append(Row(scenario, None, None, None, unavailable=str(error)))
            continue
        rows.append(
            Row(
                scenario,
                slow,
                optimized,
                slow_result == optimized_result,
                verification=verification,
            )
        )
    return rows


def _time(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def render(rows: Sequence[Row], console: Console) -> None:
    table = Table(
        title="djperf demo: the shop's scenarios, slow and optimized", title_justify="left"
    )
    table.add_column("scenario", no_wrap=True)
    table.add_column("fewer", style="dim", no_wrap=True)
    table.add_column("slow", justify="right", no_wrap=True)
    table.add_column("optimized", justify="right", no_wrap=True)
    table.add_column("lazy loads", justify="right", no_wrap=True)
    table.add_column("findings", justify="right", no_wrap=True)
    table.add_column("same data", justify="center", no_wrap=True)
    for row in rows:
        name = row.scenario.name
        if row.unavailable is not None or row.slow is None or row.optimized is None:
            table.add_row(name, row.scenario.metric, "[yellow]skipped", "", "", "", "")
            continue
        table.add_row(
            name,
            row.scenario.metric,
            f"{row.slow.queries} q  {_time(row.slow.seconds)}",
            f"{row.optimized.queries} q  {_time(row.optimized.seconds)}",
            f"{row.slow.lazy_loads} -> {row.optimized.lazy_loads}",
            f"{len(row.slow.findings)} -> {len(row.optimized.findings)}",
            "[green]yes" if row.same_data else "[red]NO",
        )
    console.print(table)
    console.print(
        "[dim]q: database queries djperf captured. fewer: what each optimized version saves "
        "(" + "; ".join(f"{key}: {text}" for key, text in METRICS.items()) + ")."
    )
    for row in rows:
        console.print()
        if row.unavailable is not None or row.slow is None or row.optimized is None:
            console.print(f"[bold]{row.scenario.name}[/bold]  [yellow]skipped: {row.unavailable}")
            continue
        console.print(f"[bold]{row.scenario.name}[/bold]  {row.scenario.title}")
        console.print("  [bold]slow[/bold]")
        report.render(row.slow.findings, console, verification=row.verification, indent=4)
        console.print("  [bold]optimized[/bold]")
        report.render(row.optimized.findings, console, indent=4)


def main(scale: float = 1.0, only: Sequence[str] = (), console: Console | None = None) -> int:
    # A pipe or a CI log gets 80 columns from rich by default: too narrow for the table.
    console = console or Console(width=None if Console().is_terminal else 120)
    call_command("migrate", verbosity=0)
    counts = seed_shop(scale=scale)
    console.print(
        f"Seeded the demo shop: {sum(counts.values())} rows "
        f"(scale {scale:g}; `djperf demo --scale` changes it)."
    )
    scenarios = [s for s in all_scenarios() if not only or any(o in s.name for o in only)]
    if not scenarios:
        console.print(f"No scenario matches {', '.join(only)}.")
        return 2
    rows = run_scenarios(scenarios)
    render(rows, console)
    if (not only or any(o in "orders.order_list" for o in only)) and not scaling_test(console):
        console.print("[red]The optimized order list failed its scaling test: that is a bug.")
        return 1
    if any(row.same_data is False for row in rows):
        console.print("[red]A scenario's versions returned different data: that is a bug.")
        return 1
    if not only or any(o in "bigdata.recompute_scores" for o in only):
        batch_comparison(console)
    return 0


def batch_comparison(console: Console) -> list[Outcome]:
    """recompute_scores in seed 000's five ways and djperf's, on the demo's rows."""
    outcomes = compare()
    console.print()
    console.print(
        f"[bold]Batch update[/bold]  recompute_scores over {outcomes[0].rows:,} rows, "
        f"{CHUNK_SIZE} per chunk: seed 000's five ways and djperf's"
    )
    table = Table(show_edge=False)
    for column in ("method", "statements", "peak memory", "time"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for outcome in outcomes:
        table.add_row(
            outcome.method,
            f"{outcome.statements:,}",
            f"{outcome.peak_bytes / 1e6:.2f} MB",
            _time(outcome.seconds),
        )
    console.print(table)
    console.print("  (at 50,000 and 1,000,000 rows on three databases: benchmarks/batch.py)")
    return outcomes


def scaling_test(console: Console) -> bool:
    """The test a djperf user writes for the order list (docs/testing.md): the
    slow page fails it, naming what grew per order and the fix; its optimized
    twin passes. Whether the optimized page passed."""
    console.print()
    console.print(
        "[bold]Scaling test[/bold]  the order list must ask the same for 1 order as for 21 "
        "(assert_constant_queries)"
    )
    passed = {}
    for label, url_name in (("slow", "orders:order-list-slow"), ("optimized", "orders:order-list")):
        try:
            assert_constant_queries(make_orders, lambda u=url_name: fetch_html(u))
        except AssertionError as failure:
            passed[label] = False
            console.print(f"  [bold]{label}[/bold]  [red]FAILED")
            # The statements that grew, each with its line and fix; the
            # findings blocks that follow in the message are the ones above.
            text = str(failure).split("\ndjperf found ", 1)[0]
            for line in text.splitlines():
                console.print(f"    {escape(line)}", soft_wrap=True)
        else:
            passed[label] = True
            console.print(f"  [bold]{label}[/bold]  [green]passed")
    return passed["optimized"]


__all__ = ["Row", "Run", "batch_comparison", "main", "render", "run_scenarios", "scaling_test"]
