"""djperf.findings: the public data every part hands around, plain and JSON-ready."""

from __future__ import annotations

import importlib
import json
import sys
import warnings

import pytest

from djperf import Finding, Fix, Location


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
        in_tests=True,
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
        "in_tests",
    }
    assert Finding.from_dict(data) == finding


def test_finding_without_locations_round_trips():
    finding = Finding(rule="duplicate-query", message="m", severity="info")
    assert Finding.from_dict(json.loads(json.dumps(finding.to_dict()))) == finding


def test_severity_is_checked():
    with pytest.raises(ValueError, match="severity"):
        Finding(rule="x", message="m", severity="fatal")  # type: ignore[arg-type]


def test_a_fix_that_omits_a_column_round_trips():
    fix = Fix("defer", "seo_text", ".defer('seo_text')", model="catalogue.Category", omits=True)
    data = json.loads(json.dumps(fix.to_dict()))
    assert data == {
        "method": "defer",
        "lookup": "seo_text",
        "text": ".defer('seo_text')",
        "model": "catalogue.Category",
        "omits": True,
    }
    assert Fix.from_dict(data) == fix


def test_a_fix_written_before_model_and_omits_reads_back():
    old = {"method": "select_related", "lookup": "author", "text": ".select_related('author')"}
    assert Fix.from_dict(old) == Fix("select_related", "author", ".select_related('author')")


def test_location_reads_as_path_and_line():
    location = Location("shop/views.py", 42, "book_list")
    assert str(location) == "shop/views.py:42"
    assert Location.from_dict(location.to_dict()) == location


def test_the_old_import_paths_still_work_and_say_where_to_go():
    sys.modules.pop("djperf.detect.findings", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("djperf.detect.findings")
    assert old.Finding is Finding and old.Fix is Fix
    assert [str(w.message) for w in caught if w.category is DeprecationWarning] == [
        "djperf.detect.findings is deprecated: import Finding and Fix from djperf "
        "(or djperf.findings); this path goes in the next release"
    ]
    from djperf.record.events import Location as EventsLocation

    assert EventsLocation is Location


def test_str_is_the_report_block_as_plain_text():
    import io

    from rich.console import Console

    from djperf import report

    finding = Finding(
        rule="n-plus-one",
        message="Book.author was loaded one book at a time: 6 queries.",
        severity="warning",
        model="shop.Book",
        field="author",
        count=6,
        duration=0.0012,
        location=Location("shop/views.py", 5, "titles"),
        origin=Location("shop/views.py", 4, "titles"),
        fix=Fix("select_related", "author", ".select_related('author')"),
    )
    out = io.StringIO()
    report.render([finding], Console(file=out, width=200, no_color=True, highlight=False))
    assert str(finding) == out.getvalue().rstrip("\n")
    assert str(finding).splitlines() == [
        "n-plus-one  shop.Book.author  x6  1.2 ms",
        "  Book.author was loaded one book at a time: 6 queries.",
        "  at       shop/views.py:5  titles",
        "  origin   shop/views.py:4  titles",
        "  fix      .select_related('author')",
    ]


def test_str_wraps_long_lines_to_80_columns_with_an_indent():
    finding = Finding(
        rule="write-in-loop",
        message="word " * 40,
        severity="warning",
        fix=Fix("bulk_create", None, "Author.objects.bulk_create(objs)  # " + "why " * 30),
    )
    lines = str(finding).splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[1].startswith("  word") and lines[2].startswith("    word")
    fix_at = next(i for i, text in enumerate(lines) if text.startswith("  fix      "))
    assert lines[fix_at + 1].startswith(" " * 13 + "why")
