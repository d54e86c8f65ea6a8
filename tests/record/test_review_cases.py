"""Lazy loads and provenance in the harder cases: filtered relations, to_attr,
custom managers, writes, guarded models, querysets built before a capture."""

from __future__ import annotations

import pickle

import django
import pytest
from django.db import connection
from django.db.models import FilteredRelation, Prefetch, Q
from django.test.utils import CaptureQueriesContext

import djperf
from djperf import provenance_of
from djperf.record.hooks import relations
from tests.testapp.models import (
    Author,
    Book,
    DynamicBook,
    GuardedBook,
    Note,
    Portrait,
    Publisher,
    Review,
    Tag,
)

pytestmark = pytest.mark.django_db
SIX_ONE = django.VERSION >= (6, 1)


@pytest.fixture
def library():
    publisher = Publisher.objects.create(name="P")
    tags = [Tag.objects.create(name=f"t{i}") for i in range(2)]
    for i in range(3):
        author = Author.objects.create(name=f"A{i}")
        Portrait.objects.create(author=author, caption=f"portrait {i}")
        for j in range(2):
            book = Book.objects.create(title=f"B{i}{j}", author=author, publisher=publisher)
            book.tags.set(tags)
            Review.objects.create(book=book, rating=j)
            Note.objects.create(content_object=book)


def test_select_related_through_a_filtered_relation(library):
    with djperf.capture() as rec:
        reviews = Review.objects.annotate(
            good=FilteredRelation("book", condition=Q(book__title__startswith="B"))
        ).select_related("good")
        for review in reviews:
            review.good.publisher  # noqa: B018
    assert len(rec.lazy_loads) == 6
    assert {load.lookup for load in rec.lazy_loads} == {"good__publisher"}
    assert all(load.origin is not None for load in rec.lazy_loads)


def test_reverse_one_to_one_selected_by_its_query_name(library):
    with djperf.capture() as rec:
        authors = list(Author.objects.select_related("painted"))
        captions = [author.portrait.caption for author in authors]
    assert len(captions) == 3
    assert rec.lazy_loads == []
    # Paths use the accessor, as attribute access and prefetch_related do.
    assert provenance_of(authors[0].portrait).path == "portrait"


def test_reverse_one_to_one_loaded_lazily_is_named_by_its_accessor(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            author.portrait  # noqa: B018
    assert {(x.field, x.kind) for x in rec.lazy_loads} == {("portrait", "reverse_one_to_one")}


def test_relation_of_a_to_attr_prefetch_goes_through_the_attribute(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related(Prefetch("books", to_attr="book_list")):
            for book in author.book_list:
                list(book.tags.all())
    assert {load.lookup for load in rec.lazy_loads} == {"book_list__tags"}
    # The suggested lookup is one Django accepts, and it removes the loads.
    with CaptureQueriesContext(connection) as fixed:
        for author in Author.objects.prefetch_related(
            Prefetch("books", to_attr="book_list"), "book_list__tags"
        ):
            for book in author.book_list:
                list(book.tags.all())
    assert len(fixed.captured_queries) == 3


def test_related_manager_called_with_a_manager(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books(manager="objects").all())
    assert [load.field for load in rec.lazy_loads] == ["books"] * 3


def test_queryset_built_before_the_capture(library):
    author = Author.objects.first()
    books = author.books.all()
    with djperf.capture() as rec:
        list(books)
    assert [load.field for load in rec.lazy_loads] == ["books"]


def test_deleting_through_a_related_manager_is_no_load(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            author.books.all().delete()
    assert rec.lazy_loads == []
    assert Book.objects.count() == 0
    assert len(rec.queries) > 3


def test_setting_a_related_manager_is_no_load(library):
    other = Author.objects.create(name="other")
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):
            author.books.set(list(Book.objects.filter(author=author)))
        other.books.set([])
        list(Tag.objects.first().books.all())
    assert [(x.model, x.field) for x in rec.lazy_loads] == [("testapp.Tag", "books")]


def test_a_guarded_model_is_never_touched(library):
    with djperf.capture() as rec:
        books = list(GuardedBook.objects.all())
        for book in books:
            book.author  # noqa: B018
    assert len(books) == 6
    assert "_djperf_source" not in vars(books[0])
    assert provenance_of(books[0]).root is rec.evaluations[0]
    assert {load.lookup for load in rec.lazy_loads} == {"author"}
    assert {str(load.origin) for load in rec.lazy_loads} == {str(rec.evaluations[0].location)}


def test_a_model_with_its_own_getattr_is_never_asked_for_djperf_names(library):
    # Built outside the capture: untagged, so every djperf lookup misses.
    book = DynamicBook.objects.get(title="B00")
    with djperf.capture() as rec:
        name = book.author.name
        books = list(DynamicBook.objects.select_related("publisher"))
        for each in books:
            each.author  # noqa: B018
            each.publisher  # noqa: B018
    assert name == "A0"
    assert provenance_of(book) is None
    assert provenance_of(books[0]).root.model == "testapp.DynamicBook"
    assert {load.lookup for load in rec.lazy_loads} == {"author"}


def test_a_guarded_model_with_select_related_is_never_touched(library):
    with djperf.capture() as rec:
        books = list(GuardedBook.objects.select_related("author"))
        for book in books:
            book.publisher  # noqa: B018
    assert "_djperf_source" not in vars(books[0])
    assert "_djperf_source" not in vars(books[0].author)
    assert provenance_of(books[0].author).path == "author"
    assert {load.lookup for load in rec.lazy_loads} == {"publisher"}


def test_instance_dict_without_private_names_can_be_copied_into_create(library):
    with djperf.capture():
        book = Book.objects.first()
    values = {k: v for k, v in vars(book).items() if not k.startswith("_") and k != "id"}
    copy = Book.objects.create(**values)
    assert copy.title == book.title


def test_pickled_querysets_carry_no_mark(library):
    author = Author.objects.first()
    with djperf.capture():
        books = author.books.all()
        list(books)
    assert books.query.__dict__.get(relations.MARK) is not None
    clone = pickle.loads(pickle.dumps(books))
    assert clone.query.__dict__.get(relations.MARK) is None
    assert [b.pk for b in clone] == [b.pk for b in books]


@pytest.mark.skipif(not SIX_ONE, reason="fetch modes need Django 6.1")
def test_fetch_peers_load_knows_what_it_built(library):
    from django.db.models import FETCH_PEERS

    with djperf.capture() as rec:
        notes = list(Note.objects.fetch_mode(FETCH_PEERS))
        [note.content_object for note in notes]
    [load] = rec.lazy_loads
    assert load.related_model == "testapp.Book"
    assert load.evaluation is not None and load.evaluation.model == "testapp.Book"
    assert load.peers == 6


@pytest.mark.skipif(not SIX_ONE, reason="fetch modes need Django 6.1")
def test_fetch_peers_counts_only_the_peers_it_fetches(library):
    from django.db.models import FETCH_PEERS

    with djperf.capture() as rec:
        books = list(Book.objects.fetch_mode(FETCH_PEERS))
        books[0].author  # noqa: B018 - loads the authors of all six
        books[3].publisher = Publisher.objects.first()  # one publisher already known
        [book.publisher for book in books]
    assert [(x.field, x.peers) for x in rec.lazy_loads] == [("author", 6), ("publisher", 5)]
