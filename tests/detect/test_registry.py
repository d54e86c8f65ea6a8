from __future__ import annotations

import logging

import pytest

import djperf
from djperf import Location, _errors
from djperf.detect import registry
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db


@pytest.fixture
def counting_rule():
    rule = registry.Rule("tests.rules.test_count", count=1)

    @rule.detects
    def count_queries(recording, thresholds):
        minimum = thresholds["count"]
        if len(recording.queries) >= minimum:
            yield rule.finding(
                message=f"{len(recording.queries)} queries",
                severity="info",
                count=len(recording.queries),
            )

    yield rule
    registry.unregister("test-count")


def test_a_rule_takes_its_id_from_its_module_and_stamps_it(counting_rule):
    assert counting_rule.id == "test-count"
    assert counting_rule.finding(message="m", severity="info").rule == "test-count"


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
    broken_rule = registry.Rule("test_broken")

    @broken_rule.detects
    def broken(recording, thresholds):
        raise RuntimeError("bug in a rule")

    monkeypatch.setattr(_errors, "_reported", set())
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
    with pytest.raises(ValueError, match="already registered"):
        registry.Rule("elsewhere.test_count")


def test_findings_are_sorted_by_count():
    rule = registry.Rule("test_many")

    @rule.detects
    def many(recording, thresholds):
        yield rule.finding(message="small", severity="info", count=2, model="a.Small")
        yield rule.finding(message="big", severity="info", count=9, model="a.Big")

    try:
        with djperf.capture(detectors=["test-many"]) as rec:
            pass
    finally:
        registry.unregister("test-many")
    assert [f.message for f in rec.findings] == ["big", "small"]


def test_one_finding_per_problem_however_many_requests_showed_it():
    # The same rule, place and fix twice (two requests of one page): one
    # finding, the larger count, the cost of both, the worse severity.
    rule = registry.Rule("test_twice")
    place = Location("shop/views.py", 12, "books")

    @rule.detects
    def twice(recording, thresholds):
        yield rule.finding(message="m", severity="info", count=3, location=place, duration=0.5)
        yield rule.finding(message="m", severity="warning", count=5, location=place, duration=1)
        yield rule.finding(message="elsewhere", severity="info", location=Location("a.py", 1, "f"))

    try:
        with djperf.capture(detectors=["test-twice"]) as rec:
            pass
    finally:
        registry.unregister("test-twice")
    merged, other = rec.findings
    assert (merged.count, merged.duration, merged.severity) == (5, 1.5, "warning")
    assert merged.message.startswith("m Seen 2 times in this capture")
    assert other.message == "elsewhere"


def test_a_rule_is_not_shown_a_recording_without_what_it_reads():
    rule = registry.Rule("test_http_only", reads=("http_calls",))
    shown = []

    @rule.detects
    def http_only(recording, thresholds):
        shown.append(recording)
        return []

    try:
        with djperf.capture(detectors=["test-http-only"]):
            list(Author.objects.all())
    finally:
        registry.unregister("test-http-only")
    assert shown == []


def test_a_rule_must_read_lists_a_recording_has():
    with pytest.raises(ValueError, match="reads must name some of"):
        registry.Rule("test_typo", reads=("query",))
    assert "test-typo" not in registry.rules()
