"""large-in-clause: a long IN (...) list of literal values."""

from __future__ import annotations

import pytest

import djperf
from tests.helpers import line, of
from tests.testapp.models import Author, Book, Tag

pytestmark = pytest.mark.django_db
HERE = __file__


# -- must flag ---------------------------------------------------------------------


def test_a_long_in_list(library):
    pks = list(range(1, 300))
    with djperf.capture() as rec:
        list(Book.objects.filter(pk__in=pks))  # big-in
    [finding] = of(rec, "large-in-clause")
    assert (finding.model, finding.count) == ("testapp.Book", 299)
    assert finding.fix.method == "subquery"
    assert str(finding.location) == line(HERE, "big-in")


def test_a_long_in_list_in_a_delete(library):
    with djperf.capture(thresholds={"large-in-clause": {"count": 5}}) as rec:
        Book.objects.filter(pk__in=list(range(1000, 1010))).delete()
    assert len(of(rec, "large-in-clause")) == 1


# -- must not flag -----------------------------------------------------------------


def test_in_list_not_below_the_threshold(library):
    with djperf.capture() as rec:
        list(Book.objects.filter(pk__in=list(range(1, 150))))
    assert of(rec, "large-in-clause") == []


def test_in_list_not_of_a_prefetch(library):
    for i in range(250):
        Tag.objects.create(name=f"many {i}")
    with djperf.capture() as rec:
        for tag in Tag.objects.prefetch_related("books"):
            list(tag.books.all())
    assert of(rec, "large-in-clause") == []


def test_in_list_not_of_in_bulk_or_bulk_update(library):
    tags = [Tag(name=f"bulk {i}") for i in range(250)]
    Tag.objects.bulk_create(tags)
    tags = list(Tag.objects.filter(name__startswith="bulk"))
    with djperf.capture() as rec:
        Tag.objects.in_bulk([t.pk for t in tags])
        for tag in tags:
            tag.name = tag.name.upper()
        Tag.objects.bulk_update(tags, ["name"])
    assert of(rec, "large-in-clause") == []


def test_in_list_not_of_a_deletions_cascades(library):
    # Deleting 300 authors: Django's cascade statements list their pks.
    Author.objects.bulk_create([Author(name=f"gone {i}") for i in range(300)])
    Book.objects.bulk_create(
        [Book(title="t", author=a) for a in Author.objects.filter(name__startswith="gone")]
    )
    with djperf.capture() as rec:
        Author.objects.filter(name__startswith="gone").delete()
    assert of(rec, "large-in-clause") == []


def test_in_list_not_of_a_related_manager_write(library):
    tags = Tag.objects.bulk_create([Tag(name=f"set {i}") for i in range(250)])
    book = Book.objects.first()
    with djperf.capture() as rec:
        book.tags.set(tags)
        book.tags.remove(*tags)
    assert of(rec, "large-in-clause") == []
