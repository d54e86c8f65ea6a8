"""The ORM hook: queryset evaluations (plain, iterator(), raw, async) and prefetches,
and the provenance they give the instances they build."""

from __future__ import annotations

import weakref

import pytest
from asgiref.sync import async_to_sync
from django.db.models import Prefetch
from django.db.models.query import ModelIterable

import djperf
from djperf import provenance_of
from tests import helpers
from tests.testapp.models import Author, Book

pytestmark = pytest.mark.django_db


def line(marker: str) -> str:
    """'tests/record/hooks/test_orm.py:<n>' for the line carrying `# <marker>`."""
    return helpers.line(__file__, marker)


def test_idle_evaluation_returns_django_iterator():
    author = Author.objects.create(name="A")
    iterator = ModelIterable(Author.objects.all()).__iter__()
    assert (
        iterator.gi_code
        is ModelIterable.__dict__["__iter__"].__globals__["_original_model_iter"].__code__
    )
    assert next(iterator) == author


# -- evaluations ------------------------------------------------------------------


def test_rows_carry_their_evaluation(rich_library):
    with djperf.capture() as rec:
        books = list(Book.objects.all())  # rows-origin
    [evaluation] = rec.evaluations
    assert evaluation.model == "testapp.Book"
    assert str(evaluation.location) == line("rows-origin")
    assert evaluation.rows == 6
    source = provenance_of(books[0])
    assert (source.root, source.path, source.how) == (evaluation, "", "row")
    assert all(provenance_of(book) is source for book in books)


def test_iterator(rich_library):
    with djperf.capture() as rec:
        for book in Book.objects.iterator(chunk_size=2):  # iterator-origin
            book.author  # noqa: B018
    assert len(rec.lazy_loads) == 6
    assert {str(x.origin) for x in rec.lazy_loads} == {line("iterator-origin")}
    assert rec.evaluations[0].rows == 6


def test_raw_queryset_rows_have_provenance(rich_library):
    with djperf.capture() as rec:
        for book in Book.objects.raw("SELECT * FROM testapp_book"):
            book.author  # noqa: B018
    assert len(rec.lazy_loads) == 6
    assert rec.lazy_loads[0].source.root is rec.evaluations[0]


def test_aiterator(rich_library):
    async def view():
        async with djperf.capture() as rec:
            async for book in Book.objects.aiterator(chunk_size=4):  # aiterator-origin
                await Author.objects.aget(pk=book.author_id)
        return rec

    rec = async_to_sync(view)()
    assert rec.evaluations[0].rows == 6
    assert str(rec.evaluations[0].location) == line("aiterator-origin")
    assert len(rec.queries) == 7


# -- prefetches -------------------------------------------------------------------


def test_prefetched_objects_have_paths(rich_library):
    with djperf.capture() as rec:
        authors = list(Author.objects.prefetch_related("books__tags"))
    root, books, tags = rec.evaluations
    assert root.prefetch_related == ("books__tags",)
    assert (books.model, tags.model) == ("testapp.Book", "testapp.Tag")
    book = authors[0].books.all()[0]
    tag = book.tags.all()[0]
    assert (provenance_of(book).path, provenance_of(book).how) == ("books", "prefetch")
    assert provenance_of(book).root is root
    assert provenance_of(tag).path == "books__tags"
    assert provenance_of(tag).root is root


def test_prefetch_object_with_queryset_and_to_attr(rich_library):
    with djperf.capture() as rec:
        authors = list(
            Author.objects.prefetch_related(
                Prefetch(
                    "books",
                    queryset=Book.objects.select_related("publisher"),
                    to_attr="book_list",
                )
            )
        )
    assert rec.evaluations[0].prefetch_related == ("books",)
    book = authors[0].book_list[0]
    # Named after to_attr: a later lookup goes through it ("book_list__tags").
    assert provenance_of(book).path == "book_list"
    assert provenance_of(book.publisher).path == "book_list__publisher"
    assert rec.evaluations[1].select_related == ("publisher",)


def test_generic_relation_prefetch_adds_no_cycle(rich_library):
    import gc

    with djperf.capture():
        books = list(Book.objects.prefetch_related("notes"))
        probe = weakref.ref(books[0])
    gc.disable()
    try:
        del books
        assert probe() is None
    finally:
        gc.enable()
