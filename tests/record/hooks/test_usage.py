"""Relation reads are watched only until the first read an eager load expects.

unused-eager-load needs one read per relation and provenance; the rows after
it read the relation at Django's own cost. These tests check both sides: the
wrappers come off once every expected read was seen, and the verdicts stay
exact (a prefetched foreign key read, one not read, one read only in
another thread).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor

import djperf
from djperf.record.hooks import usage
from tests.helpers import of
from tests.testapp.models import Author, Book, Review

pytestmark = pytest.mark.django_db

DJANGOS_GET = ForwardManyToOneDescriptor.__dict__["__get__"]


def _watched() -> bool:
    return ForwardManyToOneDescriptor.__dict__["__get__"] is not DJANGOS_GET


def _manager_watched(manager_class: type) -> bool:
    return "get_queryset" in vars(manager_class) and manager_class in usage._managers_watched


def test_a_join_is_watched_until_its_first_read(library):
    with djperf.capture() as rec:
        assert not _watched()  # nothing eager yet
        reviews = list(Review.objects.select_related("book"))
        assert _watched()
        reviews[0].book  # noqa: B018
        assert not _watched()  # the other rows read it at Django's cost
        titles = [review.book.title for review in reviews]
    assert len(titles) == 12
    assert of(rec, "unused-eager-load") == []


def test_a_join_not_read_stays_watched_and_is_reported(library):
    with djperf.capture() as rec:
        list(Review.objects.select_related("book"))
        books = list(Book.objects.select_related("author"))
        books[0].author  # noqa: B018
        assert _watched()  # the reviews' book is still to be read
    assert not _watched()  # the capture closed
    [finding] = of(rec, "unused-eager-load")
    assert finding.fix.lookup == "book"


def test_a_prefetched_foreign_key_that_is_read(library):
    with djperf.capture() as rec:
        names = [book.author.name for book in Book.objects.prefetch_related("author")]
        assert not _watched()
    assert len(names) == 6
    assert of(rec, "unused-eager-load") == []


def test_a_prefetched_foreign_key_that_is_not_read(library):
    with djperf.capture() as rec:
        titles = [book.title for book in Book.objects.prefetch_related("author")]
        assert _watched()
    assert len(titles) == 6
    [finding] = of(rec, "unused-eager-load")
    assert finding.fix.lookup == "author"


def test_a_prefetched_foreign_key_read_only_in_another_thread(library):
    with djperf.capture() as rec:
        books = list(Book.objects.prefetch_related("author"))
        with ThreadPoolExecutor(max_workers=2) as pool:
            names = list(pool.map(lambda book: book.author.name, books))
    assert len(names) == 6
    assert of(rec, "unused-eager-load") == []


def test_a_prefetched_manager_is_watched_until_its_first_read(library):
    with djperf.capture() as rec:
        authors = list(Author.objects.prefetch_related("books"))
        manager_class = type(authors[0].books)
        assert _manager_watched(manager_class)
        counts = [len(author.books.all()) for author in authors]
        assert not _manager_watched(manager_class)
    assert sum(counts) == 6
    assert of(rec, "unused-eager-load") == []


def test_a_prefetched_manager_not_read_is_reported(library):
    with djperf.capture() as rec:
        [author.name for author in Author.objects.prefetch_related("books")]
    [finding] = of(rec, "unused-eager-load")
    assert finding.fix.lookup == "books"


def test_nothing_is_watched_without_a_capture(library):
    reviews = list(Review.objects.select_related("book"))
    assert not _watched()
    with djperf.capture():
        pass
    assert [review.book.title for review in reviews] and not _watched()
