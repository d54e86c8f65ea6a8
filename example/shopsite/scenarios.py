"""The demo shop's scenarios: each problem from the seed articles, slow and optimized.

Every app of the shop registers its pairs in its own ``scenarios.py``::

    register(Scenario(
        name="pizzas.menu",
        title="Pizza menu with toppings",
        slow=menu_slow,
        optimized=menu_optimized,
    ))

Both versions return the same data (the tests compare them), and the optimized
one does less of ``metric``. The demo (``djperf demo``) runs every pair under
``djperf.capture()``; the tests run every pair under Django's own
``CaptureQueriesContext`` so they do not depend on djperf.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import transaction

Version = Literal["slow", "optimized"]
VERSIONS: tuple[Version, Version] = ("slow", "optimized")

# What the optimized version of a pair has less of.
METRICS = {
    "queries": "database queries",
    "columns": "columns read (same number of queries)",
    "redis_commands": "Redis round trips",
    "seconds": "wall-clock time (same number of calls)",
}


class ScenarioUnavailable(Exception):
    """A scenario needs a server this machine does not have (e.g. Redis)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    slow: Callable[[], Any]
    optimized: Callable[[], Any]
    metric: str = "queries"
    # Writes to the database: run inside a transaction that is rolled back.
    mutates: bool = False
    # Reads the state a mutating scenario left behind, outside the measurement.
    outcome: Callable[[], Any] | None = None
    # Entered around each run: starts a stand-in server, checks Redis, ...
    setup: Callable[[], AbstractContextManager[Any]] | None = None
    # The seed article and passage this pair reproduces.
    source: str = ""
    tags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"{self.name}: unknown metric {self.metric!r}")
        if "." not in self.name:
            raise ValueError(f"scenario names are '<app>.<what>', got {self.name!r}")

    @property
    def app(self) -> str:
        return self.name.split(".", 1)[0]

    def function(self, version: Version) -> Callable[[], Any]:
        return self.slow if version == "slow" else self.optimized


_registry: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    if scenario.name in _registry and _registry[scenario.name] is not scenario:
        raise ValueError(f"scenario {scenario.name!r} is registered twice")
    _registry[scenario.name] = scenario
    return scenario


def all_scenarios() -> list[Scenario]:
    """Every registered pair, in the order of settings.SHOP_APPS then by name."""
    from django.conf import settings

    for app in settings.SHOP_APPS:
        importlib.import_module(f"{app}.scenarios")
    order = {app: i for i, app in enumerate(settings.SHOP_APPS)}
    return sorted(_registry.values(), key=lambda s: (order.get(s.app, 99), s.name))


def get(name: str) -> Scenario:
    all_scenarios()
    return _registry[name]


def execute(
    scenario: Scenario,
    version: Version,
    around: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Any:
    """Run one version of `scenario` with `around()` wrapped tightly around it.

    Returns what the version returned, or for a mutating scenario what its
    ``outcome`` reads afterwards. Database changes are always rolled back, so
    the two versions start from the same data and the demo can run again.
    """
    with _setup(scenario), transaction.atomic():
        with around():
            result = scenario.function(version)()
        if scenario.outcome is not None:
            result = scenario.outcome()
        transaction.set_rollback(True)
    return result


@contextlib.contextmanager
def _setup(scenario: Scenario) -> Iterator[None]:
    if scenario.setup is None:
        yield
        return
    with scenario.setup():
        yield
