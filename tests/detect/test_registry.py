from __future__ import annotations

import json
import logging

import pytest

import djperf
from djperf.detect import registry
from djperf.detect.findings import Finding, Fix
from djperf.record import recorder
from djperf.record.events import Location
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db


@pytest.fixture
def counting_rule():
    @registry.register("test-count", count=1)
    def count_queries(recording, thresholds):
        minimum = thresholds["count"]
        if len(recording.queries) >= minimum:
            yield Finding(
                rule="test-count",
                message=f"{len(recording.queries)} queries",
                severity="info",
                count=len(recording.queries),
            )

    yield count_queries
    registry.unregister("test-count")


def test_findings_are_computed_when_the_scope_exits(counting_rule):
    with djperf.capture(detectors=["test-count"]) as rec:
        list(Author.objects.all())
        assert rec.findings == []
    assert [f.message for f in rec.findings] == ["1 queries"]


def test_thresholds_reach_the_detector(counting_rule):
    with djperf.capture(detectors=["test-count"], thresholds={"test-count": {"count": 2}}) as rec:
        list(Author.objects.all())
    assert rec.findings == []


def test_detectors_option_selects_rules(counting_rule):
    with djperf.capture(detectors=[]) as rec:
        list(Author.objects.all())
    assert rec.findings == []


def test_a_failing_detector_is_contained(counting_rule, monkeypatch, caplog):
    @registry.register("test-broken")
    def broken(recording, thresholds):
        raise RuntimeError("bug in a rule")

    monkeypatch.setattr(recorder, "_reported", set())
    try:
        with (
            caplog.at_level(logging.ERROR, logger="djperf"),
            djperf.capture(detectors=["test-count", "test-broken"]) as rec,
        ):
            list(Author.objects.all())
    finally:
        registry.unregister("test-broken")
    assert [f.rule for f in rec.findings] == ["test-count"]
    assert "detector test-broken" in caplog.text


def test_a_rule_id_registers_once(counting_rule):
    with pytest.raises(ValueError, match="already has a detector"):
        registry.register("test-count")(lambda recording, thresholds: [])


def test_findings_are_sorted_by_count():
    @registry.register("test-many")
    def many(recording, thresholds):
        yield Finding(rule="test-many", message="small", severity="info", count=2)
        yield Finding(rule="test-many", message="big", severity="info", count=9)

    try:
        with djperf.capture(detectors=["test-many"]) as rec:
            pass
    finally:
        registry.unregister("test-many")
    assert [f.message for f in rec.findings] == ["big", "small"]


def test_finding_round_trips_through_json():
    finding = Finding(
        rule="n-plus-one",
        message="Review.book loaded one review at a time",
        severity="warning",
        model="catalogue.Review",
        field="book",
        count=35,
        location=Location("shop/views.py", 14, "reviews"),
        origin=Location("shop/views.py", 12, "reviews"),
        fix=Fix("select_related", "book__publisher", ".select_related('book__publisher')"),
        duration=0.012,
        built=Location("shop/queries.py", 3, "reviews_query"),
        alternatives=(Fix("fetch_mode", None, ".fetch_mode(models.FETCH_PEERS)"),),
    )
    data = json.loads(json.dumps(finding.to_dict()))
    assert set(data) == {
        "rule",
        "message",
        "severity",
        "model",
        "field",
        "count",
        "location",
        "origin",
        "fix",
        "duration",
        "built",
        "alternatives",
    }
    assert Finding.from_dict(data) == finding


def test_finding_without_locations_round_trips():
    finding = Finding(rule="duplicate-query", message="m", severity="info")
    assert Finding.from_dict(json.loads(json.dumps(finding.to_dict()))) == finding


def test_severity_is_checked():
    with pytest.raises(ValueError, match="severity"):
        Finding(rule="x", message="m", severity="fatal")  # type: ignore[arg-type]
