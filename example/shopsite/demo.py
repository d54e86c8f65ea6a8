"""`djperf demo`: every scenario of the shop, slow and optimized, under djperf.

``main()`` migrates and seeds the shop's database (SQLite unless DJPERF_DB
says otherwise), runs both versions of every scenario inside
``djperf.capture()`` and prints one table: the queries and time of each
version, the lazy loads djperf saw, and whether both versions returned the
same data. Findings and fixes arrive with the detectors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.management import call_command
from rich.console import Console
from rich.table import Table

import djperf
from shopsite.scenarios import (
    METRICS,
    VERSIONS,
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


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    slow: Run | None
    optimized: Run | None
    same_data: bool | None
    unavailable: str | None = None


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
    )
    return run, result


def run_scenarios(scenarios: Iterable[Scenario]) -> list[Row]:
    rows = []
    for scenario in scenarios:
        try:
            slow, slow_result = run_version(scenario, "slow")
            optimized, optimized_result = run_version(scenario, "optimized")
        except ScenarioUnavailable as error:
            rows.append(Row(scenario, None, None, None, unavailable=str(error)))
            continue
        rows.append(Row(scenario, slow, optimized, slow_result == optimized_result))
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
    table.add_column("same data", justify="center", no_wrap=True)
    for row in rows:
        name = row.scenario.name
        if row.unavailable is not None or row.slow is None or row.optimized is None:
            table.add_row(name, row.scenario.metric, "[yellow]skipped", "", "", "")
            continue
        table.add_row(
            name,
            row.scenario.metric,
            f"{row.slow.queries} q  {_time(row.slow.seconds)}",
            f"{row.optimized.queries} q  {_time(row.optimized.seconds)}",
            f"{row.slow.lazy_loads} -> {row.optimized.lazy_loads}",
            "[green]yes" if row.same_data else "[red]NO",
        )
    console.print(table)
    console.print(
        "[dim]q: database queries djperf captured. fewer: what each optimized version saves "
        "(" + "; ".join(f"{key}: {text}" for key, text in METRICS.items()) + ")."
    )
    console.print()
    console.print("Relations loaded one instance at a time, in the slow versions:")
    for row in rows:
        if row.slow is not None and row.slow.relations:
            loads = ", ".join(f"{name} x{count}" for name, count in row.slow.relations)
            console.print(f"  {row.scenario.name:<30} {loads}")
    for row in rows:
        if row.unavailable is not None:
            console.print(f"[yellow]{row.scenario.name} skipped: {row.unavailable}")


def main(scale: float = 1.0, only: Sequence[str] = (), console: Console | None = None) -> int:
    # A pipe or a CI log gets 80 columns from rich by default: too narrow for the table.
    console = console or Console(width=None if Console().is_terminal else 110)
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
    if any(row.same_data is False for row in rows):
        console.print("[red]A scenario's versions returned different data: that is a bug.")
        return 1
    return 0


__all__ = ["VERSIONS", "Row", "Run", "main", "render", "run_scenarios"]
