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
    lines = str(failure.value).splitlines()
    assert lines[0] == "djperf found 1 problem:"
    assert lines[1].startswith("n-plus-one  testapp.Book.author  x6")
    assert lines[2].startswith("  Book.author was loaded one book at a time: 6 queries")
    # (the function's name may wrap to the next line)
    assert any(text.startswith(f"  at       {line(__file__, 'the-loop')}") for text in lines)
    assert "  fix      .select_related('author')" in lines


def test_info_findings_pass(library):
    # The same query twice: one query to save, info.
    with djperf.capture() as rec:
        Book.objects.filter(title="B00").exists()
        Book.objects.filter(title="B00").exists()
    assert [f.severity for f in rec.findings] == ["info"]
    assert_no_warnings(rec)


def test_describe_without_a_location_or_fix():
    finding = djperf.Finding(rule="x", message="m", severity="error")
    assert describe([finding]) == "djperf found 1 problem:\nx  x0\n  m\n  at       unknown"
