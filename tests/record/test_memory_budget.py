"""A recording holds a bounded amount of memory: past its budget, repeats are counted.

The budget is in bytes of kept events (scope.EVENT_BYTES each); these tests
set a tiny one so that a short loop passes it, and count what was kept and
what was only counted.
"""

from __future__ import annotations

import pytest

import djperf
from djperf.record.scope import EVENT_BYTES, EXEMPLARS
from tests.helpers import line, of
from tests.testapp.models import Author, Book, Review

pytestmark = pytest.mark.django_db

# Room for a handful of events of each kind before summarizing begins.
TINY_MB = 8 * max(EVENT_BYTES.values()) / (1024 * 1024)


def _titles(keys):
    return [Book.objects.get(pk=pk).title for pk in keys]  # the-get


@pytest.fixture
def books(db):
    author = Author.objects.create(name="A")
    Book.objects.bulk_create(Book(title=f"B{i}", author=author) for i in range(120))
    return list(Book.objects.order_by("pk").values_list("pk", flat=True))


def test_past_the_budget_repeats_are_counted_not_kept(books):
    with djperf.capture(max_memory_mb=TINY_MB) as rec:
        _titles(books)
    assert rec.summarized
    [queries] = [s for s in rec.summaries.values() if s.kind == "queries" and s.count]
    assert str(queries.exemplar.location) == line(__file__, "the-get")
    # Every get() is either kept or counted, and the kept ones are few.
    kept = [q for q in rec.queries if q.fingerprint == queries.exemplar.fingerprint]
    assert len(kept) + queries.count == 120
    assert len(kept) <= 8 + EXEMPLARS
    [evaluations] = [s for s in rec.summaries.values() if s.kind == "evaluations" and s.count]
    assert len(rec.evaluations) + evaluations.count == 120


def test_the_rules_still_see_the_repeat_and_say_what_was_counted(books):
    with djperf.capture(max_memory_mb=TINY_MB) as rec:
        _titles(books)
    [finding] = of(rec, "repeated-query")
    assert "more events like these at this line were counted, not kept" in finding.message
    with djperf.capture(max_memory_mb=None) as full:
        _titles(books)
    [unbounded] = of(full, "repeated-query")
    assert not full.summarized and len(full.queries) == 120
    assert (finding.rule, finding.location, finding.fix) == (
        unbounded.rule,
        unbounded.location,
        unbounded.fix,
    )


def test_uses_of_counted_evaluations_count_for_the_kept_ones(library):
    # Only the last evaluations read the join: they are counted, not kept,
    # and the select_related is still used.
    reviews = list(Review.objects.values_list("pk", flat=True))
    with djperf.capture(max_memory_mb=TINY_MB) as rec:
        for number, pk in enumerate(reviews * 4):
            review = Review.objects.select_related("book").get(pk=pk)
            if number == len(reviews) * 4 - 1:
                review.book  # noqa: B018
    assert rec.summarized
    assert of(rec, "unused-eager-load") == []


def test_an_unused_join_is_still_reported_past_the_budget(library):
    reviews = list(Review.objects.values_list("pk", flat=True))
    with djperf.capture(max_memory_mb=TINY_MB) as rec:
        for pk in reviews * 4:
            Review.objects.select_related("book").get(pk=pk)
    assert rec.summarized
    [finding] = of(rec, "unused-eager-load")
    assert finding.fix.lookup == "book"


def test_the_default_budget_keeps_a_test_sized_capture_whole(books):
    with djperf.capture() as rec:
        _titles(books)
    assert not rec.summarized and rec.summaries == {}
    assert len(rec.queries) == 120


@pytest.mark.parametrize("value", [0, -1, "50", True])
def test_a_budget_must_be_a_positive_number(value):
    with pytest.raises(ValueError, match="max_memory_mb must be a positive number"):
        djperf.capture(max_memory_mb=value)


def test_the_setting_sets_the_default(books, settings):
    settings.DJPERF = {"TEST_PATHS": ["tests/as_tests.py"], "MAX_MEMORY_MB": TINY_MB}
    with djperf.capture() as rec:
        _titles(books)
    assert rec.summarized
