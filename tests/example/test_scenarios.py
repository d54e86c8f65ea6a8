"""Every scenario pair returns the same data, and the optimized version does less.

Measured with Django's CaptureQueriesContext, Redis INFO commandstats and the
upstream stand-in's own count of calls in flight, never with djperf and never
with the clock: these tests prove the demo that djperf is judged on.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test.utils import override_settings

from shopsite.scenarios import Scenario, ScenarioUnavailable, Version, all_scenarios, execute
from tests.example.conftest import unavailable
from tests.example.measure import Measurement

# The stand-in's latency in these tests (the verdict reads no clock).
RIVERS_LATENCY = 0.05


def _params() -> list[Any]:
    return [
        pytest.param(
            scenario,
            id=scenario.name,
            marks=[pytest.mark.redis] if scenario.metric == "redis_commands" else [],
        )
        for scenario in all_scenarios()
    ]


def run(
    scenario: Scenario, version: Version, request: pytest.FixtureRequest
) -> tuple[Any, Measurement]:
    redis = request.getfixturevalue("redis_client") if scenario.metric == "redis_commands" else None
    measurement = Measurement(redis=redis)
    try:
        # The optimized version's calls must be in flight together: the
        # stand-in answers none before two are (rivers/standin.py).
        together = 2 if version == "optimized" else 1
        with override_settings(
            RIVERS_UPSTREAM_LATENCY=RIVERS_LATENCY, RIVERS_UPSTREAM_TOGETHER=together
        ):
            result = execute(scenario, version, around=measurement)
    except ScenarioUnavailable as error:
        unavailable(str(error))
    return result, measurement


@pytest.mark.parametrize("scenario", _params())
def test_pair(scenario: Scenario, seeded: dict[str, int], request: pytest.FixtureRequest) -> None:
    slow_result, slow = run(scenario, "slow", request)
    optimized_result, optimized = run(scenario, "optimized", request)

    assert optimized_result == slow_result
    assert slow_result, f"{scenario.name} returned nothing: the pair proves nothing on no data"

    if scenario.metric == "queries":
        assert len(optimized.queries) < len(slow.queries)
    elif scenario.metric == "columns":
        assert len(optimized.queries) == len(slow.queries)
        assert any("seo_text" in sql for sql in slow.queries)
        assert not any("seo_text" in sql for sql in optimized.queries)
    elif scenario.metric == "redis_commands":
        assert optimized.redis_commands < slow.redis_commands
    elif scenario.metric == "seconds":
        # The calls the slow version makes one after another overlap in the
        # optimized one: what saves the seconds, counted by the upstream.
        assert slow.upstream_peak == 1
        assert optimized.upstream_peak >= 2
    else:  # pragma: no cover - Scenario validates its metric
        pytest.fail(f"no check for metric {scenario.metric!r}")


def test_every_app_has_a_scenario() -> None:
    from django.conf import settings

    apps = {scenario.app for scenario in all_scenarios()}
    assert apps == set(settings.SHOP_APPS)


def test_mutating_scenarios_read_their_outcome() -> None:
    for scenario in all_scenarios():
        if scenario.mutates:
            assert scenario.outcome is not None, scenario.name
