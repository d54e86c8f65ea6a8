"""djperf.testing.assert_no_warnings: fails on warnings and above, with the fix in the message."""

from __future__ import annotations

import pytest

import djperf
from djperf.testing import assert_no_warnings, describe
from tests.helpers import line
from tests.testapp.models import Book

pytestmark = pytest.mark.django_db


def test_passes_on_a_clean_capture(library):
    with djperf.capture() as rec:
        [book.author.name for book in Book.objects.select_related("author")]
    assert_no_warnings(rec)


def test_fails_with_the_line_and_the_fix(library):
    with djperf.capture() as rec:
        [book.author.name for book in Book.objects.all()]  # the-loop
    with pytest.raises(AssertionError) as failure:
        assert_no_warnings(rec)
    text = str(failure.value)
    assert text.splitlines()[0] == "djperf found 1 problem:"
    assert text.splitlines()[1].startswith(
        f"{line(__file__, 'the-loop')}: Book.author was loaded one book at a time: 6 queries"
    )
    assert "  [n-plus-one, warning]" in text
    assert "  fix: .select_related('author')" in text


def test_info_findings_pass(library):
    # The same query twice: one query to save, info.
    with djperf.capture() as rec:
        Book.objects.filter(title="B00").exists()
        Book.objects.filter(title="B00").exists()
    assert [f.severity for f in rec.findings] == ["info"]
    assert_no_warnings(rec)


def test_describe_without_a_location_or_fix():
    finding = djperf.Finding(rule="x", message="m", severity="error")
    assert describe([finding]) == "djperf found 1 problem:\n(unknown line): m\n  [x, error]"
