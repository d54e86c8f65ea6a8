"""Provenance tags: the select_related paths of joined instances, models that guard
their attributes, and tags through copy, pickle and outside a capture.

The cases from a past review (guarded models, a reverse one-to-one selected by its
query name) use their own data, `library_with_portraits`."""

from __future__ import annotations

import copy
import pickle

import pytest

import djperf
from djperf import provenance_of
from tests.testapp.models import (
    Author,
    Book,
    DynamicBook,
    GuardedBook,
    Review,
)

pytestmark = pytest.mark.django_db


# -- the paths of joined instances ------------------------------------------------


def test_select_related_children_have_paths(rich_library):
    with djperf.capture() as rec:
        reviews = list(Review.objects.select_related("book__publisher", "book__author"))
    [evaluation] = rec.evaluations
    assert evaluation.select_related == ("book__publisher", "book__author")
    book = reviews[0].book
    publisher = book.publisher
    assert provenance_of(book).path == "book"
    assert provenance_of(book).how == "select_related"
    assert provenance_of(book).root is evaluation
    assert provenance_of(publisher).path == "book__publisher"
    assert provenance_of(book.author).path == "book__author"


# Deprecated in Django 6.1, still supported: djperf must handle it.
@pytest.mark.filterwarnings("ignore:Calling select_related.. with no arguments")
def test_bare_select_related_follows_every_cached_relation(rich_library):
    with djperf.capture() as rec:
        reviews = list(Review.objects.select_related())
    assert rec.evaluations[0].select_related == ("*",)
    assert rec.evaluations[0].select_related_all
    assert provenance_of(reviews[0].book).path == "book"
    assert provenance_of(reviews[0].book.author).path == "book__author"


def test_reverse_one_to_one_selected_by_its_query_name(library_with_portraits):
    with djperf.capture() as rec:
        authors = list(Author.objects.select_related("painted"))
        captions = [author.portrait.caption for author in authors]
    assert len(captions) == 3
    assert rec.lazy_loads == []
    # Paths use the accessor, as attribute access and prefetch_related do.
    assert provenance_of(authors[0].portrait).path == "portrait"


# -- models that guard their attributes -------------------------------------------


def test_a_guarded_model_is_never_touched(library_with_portraits):
    with djperf.capture() as rec:
        books = list(GuardedBook.objects.all())
        for book in books:
            book.author  # noqa: B018
    assert len(books) == 6
    assert "_djperf_source" not in vars(books[0])
    assert provenance_of(books[0]).root is rec.evaluations[0]
    assert {load.lookup for load in rec.lazy_loads} == {"author"}
    assert {str(load.origin) for load in rec.lazy_loads} == {str(rec.evaluations[0].location)}


def test_a_model_with_its_own_getattr_is_never_asked_for_djperf_names(library_with_portraits):
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


def test_a_guarded_model_with_select_related_is_never_touched(library_with_portraits):
    with djperf.capture() as rec:
        books = list(GuardedBook.objects.select_related("author"))
        for book in books:
            book.publisher  # noqa: B018
    assert "_djperf_source" not in vars(books[0])
    assert "_djperf_source" not in vars(books[0].author)
    assert provenance_of(books[0].author).path == "author"
    assert {load.lookup for load in rec.lazy_loads} == {"publisher"}


def test_instance_dict_without_private_names_can_be_copied_into_create(library_with_portraits):
    with djperf.capture():
        book = Book.objects.first()
    values = {k: v for k, v in vars(book).items() if not k.startswith("_") and k != "id"}
    copy = Book.objects.create(**values)
    assert copy.title == book.title


# -- copies, pickles, and instances outside a capture -----------------------------


def test_tagged_instances_pickle_without_djperf_state(rich_library):
    with djperf.capture():
        book = Book.objects.select_related("author").first()
    clone = pickle.loads(pickle.dumps(book))
    assert clone == book
    assert provenance_of(clone) is None
    assert clone.author.name == book.author.name


def test_tagged_instances_copy(rich_library):
    with djperf.capture():
        book = Book.objects.first()
    assert provenance_of(copy.copy(book)) is provenance_of(book)
    assert provenance_of(copy.deepcopy(book)) is provenance_of(book)


def test_nothing_is_tagged_outside_a_scope(rich_library):
    book = Book.objects.first()
    assert provenance_of(book) is None
