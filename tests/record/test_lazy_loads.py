"""Every lazy load is recorded, with the relation, the access line and the provenance."""

from __future__ import annotations

import copy
import pickle
import weakref

import django
import pytest
from asgiref.sync import async_to_sync
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext

import djperf
from djperf import provenance_of
from tests.testapp.models import Author, Bio, Book, Chapter, Edition, Note, Publisher, Review, Tag

pytestmark = pytest.mark.django_db

HERE = "tests/record/test_lazy_loads.py"
SIX_ONE = django.VERSION >= (6, 1)
needs_fetch_modes = pytest.mark.skipif(not SIX_ONE, reason="fetch modes need Django 6.1")


def line(marker: str) -> str:
    """'tests/record/test_lazy_loads.py:<n>' for the line carrying `# <marker>`."""
    with open(__file__) as source:
        for number, text in enumerate(source, start=1):
            if text.rstrip().endswith(f"# {marker}"):
                return f"{HERE}:{number}"
    raise AssertionError(f"no line ends with # {marker}")


@pytest.fixture
def library():
    publishers = [Publisher.objects.create(name=f"P{i}") for i in range(2)]
    tags = [Tag.objects.create(name=f"t{i}") for i in range(3)]
    authors = []
    for i in range(3):
        author = Author.objects.create(name=f"A{i}")
        Bio.objects.create(author=author, text=f"bio {i}")
        authors.append(author)
        for j in range(2):
            book = Book.objects.create(
                title=f"B{i}{j}", author=author, publisher=publishers[j], summary="long" * 10
            )
            book.tags.set(tags[:2])
            for k in range(2):
                Chapter.objects.create(book=book, title=f"c{k}")
                Review.objects.create(book=book, rating=k)
            Note.objects.create(content_object=book, text=f"note {i}{j}")
    Author.objects.create(name="no bio, no books")
    return {"authors": authors, "tags": tags, "publishers": publishers}


def loads_of(rec, field):
    return [load for load in rec.lazy_loads if load.field == field]


# -- each relation kind -----------------------------------------------------


def test_forward_foreign_key(library):
    with djperf.capture() as rec:
        books = Book.objects.all()  # fk-built
        for book in books:  # fk-origin
            book.author  # noqa: B018 # fk-access
    loads = rec.lazy_loads
    assert len(loads) == 6
    load = loads[0]
    assert (load.model, load.field, load.kind) == ("testapp.Book", "author", "foreign_key")
    assert load.related_model == "testapp.Author"
    assert str(load.location) == line("fk-access")
    assert str(load.origin) == line("fk-origin")
    assert load.lookup == "author"
    assert load.instance is books[0]
    assert len(load.queries) == 1
    assert load.queries[0] in rec.queries
    assert "testapp_author" in load.queries[0].sql
    assert load.peers == 1
    assert load.fetch_mode == ("FETCH_ONE" if SIX_ONE else None)
    assert load.duration == load.queries[0].duration
    assert load.evaluation.model == "testapp.Author"


def test_forward_one_to_one(library):
    with djperf.capture() as rec:
        for bio in Bio.objects.all():
            bio.author  # noqa: B018
    assert {(x.model, x.field, x.kind) for x in rec.lazy_loads} == {
        ("testapp.Bio", "author", "one_to_one")
    }
    assert len(rec.lazy_loads) == 3


def test_reverse_one_to_one(library):
    with djperf.capture() as rec:
        for author in Author.objects.filter(bio__isnull=False):
            author.bio  # noqa: B018 # bio-access
    assert len(rec.lazy_loads) == 3
    load = rec.lazy_loads[0]
    assert (load.model, load.field, load.kind) == ("testapp.Author", "bio", "reverse_one_to_one")
    assert load.related_model == "testapp.Bio"
    assert str(load.location) == line("bio-access")


def test_reverse_one_to_one_that_does_not_exist_is_still_a_load(library):
    lonely = Author.objects.get(name="no bio, no books")
    with djperf.capture() as rec, pytest.raises(Author.bio.RelatedObjectDoesNotExist):
        lonely.bio  # noqa: B018
    assert [x.field for x in rec.lazy_loads] == ["bio"]


def test_reverse_foreign_key_with_related_name(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():  # books-origin
            list(author.books.all())  # books-access
    assert len(rec.lazy_loads) == 4
    load = rec.lazy_loads[0]
    assert (load.model, load.field, load.kind) == (
        "testapp.Author",
        "books",
        "reverse_foreign_key",
    )
    assert load.related_model == "testapp.Book"
    assert str(load.location) == line("books-access")
    assert str(load.origin) == line("books-origin")
    assert len(load.queries) == 1
    assert load.evaluation.rows == 2


def test_reverse_foreign_key_without_related_name(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            [chapter.title for chapter in book.chapter_set.all()]
    assert {(x.field, x.kind) for x in rec.lazy_loads} == {("chapter_set", "reverse_foreign_key")}
    assert len(rec.lazy_loads) == 6


def test_publisher_book_set(library):
    with djperf.capture() as rec:
        for publisher in Publisher.objects.all():
            list(publisher.book_set.all())
    assert [x.field for x in rec.lazy_loads] == ["book_set", "book_set"]


def test_many_to_many_forward(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            list(book.tags.all())
    assert len(rec.lazy_loads) == 6
    load = rec.lazy_loads[0]
    assert (load.model, load.field, load.kind, load.related_model) == (
        "testapp.Book",
        "tags",
        "many_to_many",
        "testapp.Tag",
    )


def test_many_to_many_reverse(library):
    with djperf.capture() as rec:
        for tag in Tag.objects.all():
            list(tag.books.all())
    assert len(rec.lazy_loads) == 3
    load = rec.lazy_loads[0]
    assert (load.model, load.field, load.kind, load.related_model) == (
        "testapp.Tag",
        "books",
        "many_to_many",
        "testapp.Book",
    )


def test_generic_foreign_key(library):
    ContentType.objects.get_for_model(Book)  # warm Django's content type cache
    with djperf.capture() as rec:
        for note in Note.objects.all():  # gfk-origin
            note.content_object  # noqa: B018 # gfk-access
    assert len(rec.lazy_loads) == 6
    load = rec.lazy_loads[0]
    assert (load.model, load.field, load.kind) == (
        "testapp.Note",
        "content_object",
        "generic_foreign_key",
    )
    assert load.related_model == "testapp.Book"
    assert str(load.location) == line("gfk-access")
    assert str(load.origin) == line("gfk-origin")
    assert load.evaluation.model == "testapp.Book"


def test_generic_foreign_key_cold_content_type_cache(library):
    ContentType.objects.clear_cache()
    with djperf.capture() as rec:
        for note in Note.objects.all():
            note.content_object  # noqa: B018
    assert len(rec.lazy_loads) == 6
    # The first load also looked the content type up; the loaded object is still the book.
    assert {x.related_model for x in rec.lazy_loads} == {"testapp.Book"}
    assert all(x.evaluation.model == "testapp.Book" for x in rec.lazy_loads)


def test_generic_relation(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            list(book.notes.all())
    assert len(rec.lazy_loads) == 6
    load = rec.lazy_loads[0]
    assert (load.model, load.field, load.kind, load.related_model) == (
        "testapp.Book",
        "notes",
        "generic_relation",
        "testapp.Note",
    )


def test_deferred_field_with_only(library):
    with djperf.capture() as rec:
        for book in Book.objects.only("title"):  # deferred-origin
            book.summary  # noqa: B018 # deferred-access
    assert len(rec.lazy_loads) == 6
    load = rec.lazy_loads[0]
    assert (load.model, load.field, load.kind) == ("testapp.Book", "summary", "deferred_field")
    assert load.related_model == "testapp.Book"
    assert str(load.location) == line("deferred-access")
    assert str(load.origin) == line("deferred-origin")
    assert load.lookup == "summary"


def test_deferred_field_with_defer(library):
    with djperf.capture() as rec:
        for book in Book.objects.defer("summary"):
            book.summary  # noqa: B018
    assert [x.field for x in rec.lazy_loads] == ["summary"] * 6


def test_deferred_foreign_key_column_is_named_as_written(library):
    with djperf.capture() as rec:
        for book in Book.objects.only("title"):
            book.author_id  # noqa: B018
    assert {(x.field, x.kind) for x in rec.lazy_loads} == {("author_id", "deferred_field")}


def test_loaded_fields_are_not_loads(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.summary, book.title, book.author_id  # noqa: B018
    assert rec.lazy_loads == []


def test_parent_link_built_from_the_row_is_not_a_load(library):
    Edition.objects.create(title="E", author=library["authors"][0], year=1999)
    with djperf.capture() as rec:
        for edition in Edition.objects.all():
            edition.book_ptr  # noqa: B018
    assert rec.lazy_loads == []


def test_count_on_a_related_manager_is_a_query_not_a_load(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            author.books.count()
    assert rec.lazy_loads == []
    assert len(rec.queries) == 5


# -- nothing to report when the relations were fetched eagerly ------------------


def test_select_related_is_not_a_load(library):
    with djperf.capture() as rec:
        for review in Review.objects.select_related("book__publisher"):
            review.book.publisher.name  # noqa: B018
    assert rec.lazy_loads == []
    assert len(rec.queries) == 1


def test_prefetch_related_is_not_a_load(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books__tags", "bio"):
            for book in author.books.all():
                list(book.tags.all())
    assert rec.lazy_loads == []
    assert len(rec.queries) == 4


# -- provenance ----------------------------------------------------------------


def test_rows_carry_their_evaluation(library):
    with djperf.capture() as rec:
        books = list(Book.objects.all())  # rows-origin
    [evaluation] = rec.evaluations
    assert evaluation.model == "testapp.Book"
    assert str(evaluation.location) == line("rows-origin")
    assert evaluation.rows == 6
    source = provenance_of(books[0])
    assert (source.root, source.path, source.how) == (evaluation, "", "row")
    assert all(provenance_of(book) is source for book in books)


def test_select_related_children_have_paths(library):
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
def test_bare_select_related_follows_every_cached_relation(library):
    with djperf.capture() as rec:
        reviews = list(Review.objects.select_related())
    assert rec.evaluations[0].select_related == ("*",)
    assert rec.evaluations[0].select_related_all
    assert provenance_of(reviews[0].book).path == "book"
    assert provenance_of(reviews[0].book.author).path == "book__author"


def test_prefetched_objects_have_paths(library):
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


def test_prefetch_object_with_queryset_and_to_attr(library):
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


def test_chain_through_lazy_loads_is_named_from_the_root(library):
    with djperf.capture() as rec:
        for review in Review.objects.all():  # chain-origin
            review.book.publisher.name  # noqa: B018 # chain-access
    books = loads_of(rec, "book")
    publishers = loads_of(rec, "publisher")
    assert len(books) == len(publishers) == 12
    assert {x.lookup for x in books} == {"book"}
    assert {x.lookup for x in publishers} == {"book__publisher"}
    assert {str(x.origin) for x in books + publishers} == {line("chain-origin")}
    assert {str(x.location) for x in publishers} == {line("chain-access")}
    # The publisher's instance came from the book's lazy load.
    assert publishers[0].source.via is books[0]
    assert publishers[0].source.how == "lazy_load"


def test_chain_through_a_reverse_manager(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            for book in author.books.all():
                book.publisher  # noqa: B018
    assert {x.lookup for x in loads_of(rec, "publisher")} == {"books__publisher"}


def test_relation_reached_through_a_prefetch(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):  # prefetch-origin
            for book in author.books.all():
                list(book.tags.all())
    loads = loads_of(rec, "tags")
    assert len(loads) == 6
    assert {x.lookup for x in loads} == {"books__tags"}
    assert {str(x.origin) for x in loads} == {line("prefetch-origin")}


def test_relation_reached_through_select_related(library):
    with djperf.capture() as rec:
        for review in Review.objects.select_related("book"):
            review.book.publisher  # noqa: B018
    assert {x.lookup for x in rec.lazy_loads} == {"book__publisher"}
    assert len(rec.lazy_loads) == 12


def test_instance_from_outside_the_scope_has_no_source(library):
    book = Book.objects.first()
    with djperf.capture() as rec:
        book.author  # noqa: B018
    [load] = rec.lazy_loads
    assert load.source is None
    assert load.origin is None
    assert load.lookup == "author"


def test_bypassed_prefetch(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):
            list(author.books.filter(title__startswith="B"))
    assert len(rec.lazy_loads) == 4
    assert all(x.bypassed_prefetch for x in rec.lazy_loads)


def test_not_prefetched_is_not_bypassed(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books.filter(title__startswith="B"))
    assert rec.lazy_loads and not any(x.bypassed_prefetch for x in rec.lazy_loads)


def test_iterator(library):
    with djperf.capture() as rec:
        for book in Book.objects.iterator(chunk_size=2):  # iterator-origin
            book.author  # noqa: B018
    assert len(rec.lazy_loads) == 6
    assert {str(x.origin) for x in rec.lazy_loads} == {line("iterator-origin")}
    assert rec.evaluations[0].rows == 6


def test_raw_queryset_rows_have_provenance(library):
    with djperf.capture() as rec:
        for book in Book.objects.raw("SELECT * FROM testapp_book"):
            book.author  # noqa: B018
    assert len(rec.lazy_loads) == 6
    assert rec.lazy_loads[0].source.root is rec.evaluations[0]


def test_async_for_and_async_managers(library):
    async def view():
        async with djperf.capture() as rec:
            async for author in Author.objects.all():  # async-origin
                [book async for book in author.books.all()]  # async-access
        return rec

    rec = async_to_sync(view)()
    assert len(rec.lazy_loads) == 4
    load = rec.lazy_loads[0]
    assert load.field == "books"
    assert str(load.origin) == line("async-origin")
    assert str(load.location) == line("async-access")
    assert str(rec.queries[1].location) == line("async-access")


def test_aiterator(library):
    async def view():
        async with djperf.capture() as rec:
            async for book in Book.objects.aiterator(chunk_size=4):  # aiterator-origin
                await Author.objects.aget(pk=book.author_id)
        return rec

    rec = async_to_sync(view)()
    assert rec.evaluations[0].rows == 6
    assert str(rec.evaluations[0].location) == line("aiterator-origin")
    assert len(rec.queries) == 7


# -- djperf changes nothing ------------------------------------------------------


def test_results_and_queries_are_unchanged(library):
    def work():
        out = []
        for review in Review.objects.all():
            out.append((review.book.title, review.book.publisher.name))
        for author in Author.objects.prefetch_related("books__tags"):
            out.extend(t.name for b in author.books.all() for t in b.tags.all())
        for book in Book.objects.only("title"):
            out.append(book.summary)
        return out

    with CaptureQueriesContext(connection) as bare:
        expected = work()
    with CaptureQueriesContext(connection) as watched, djperf.capture():
        actual = work()
    assert actual == expected
    assert [q["sql"] for q in watched.captured_queries] == [q["sql"] for q in bare.captured_queries]


def test_a_recording_does_not_keep_instances_alive(library):
    import gc

    with djperf.capture() as rec:
        reviews = list(Review.objects.all())
        for review in reviews:
            review.book.publisher  # noqa: B018
        probe = weakref.ref(reviews[0])
        book_probe = weakref.ref(reviews[0].book)
    assert rec.lazy_loads[0].instance is reviews[0]
    gc.disable()  # freed by reference counting alone: no cycle through djperf
    try:
        del reviews, review
        assert probe() is None
        assert book_probe() is None
    finally:
        gc.enable()
    assert rec.lazy_loads[0].instance is None
    assert rec.lazy_loads[0].lookup == "book"


def test_generic_relation_prefetch_adds_no_cycle(library):
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


def test_tagged_instances_pickle_without_djperf_state(library):
    with djperf.capture():
        book = Book.objects.select_related("author").first()
    clone = pickle.loads(pickle.dumps(book))
    assert clone == book
    assert provenance_of(clone) is None
    assert clone.author.name == book.author.name


def test_tagged_instances_copy(library):
    with djperf.capture():
        book = Book.objects.first()
    assert provenance_of(copy.copy(book)) is provenance_of(book)
    assert provenance_of(copy.deepcopy(book)) is provenance_of(book)


def test_querysets_of_related_managers_pickle(library):
    author = Author.objects.first()
    with djperf.capture():
        books = author.books.all()
        list(books)
    assert [b.pk for b in pickle.loads(pickle.dumps(books))] == [b.pk for b in books]


def test_nothing_is_tagged_outside_a_scope(library):
    book = Book.objects.first()
    assert provenance_of(book) is None


# -- Django 6.1 fetch modes -------------------------------------------------------


@needs_fetch_modes
def test_fetch_one_is_recorded(library):
    from django.db.models import FETCH_ONE

    with djperf.capture() as rec:
        for book in Book.objects.fetch_mode(FETCH_ONE):
            book.author  # noqa: B018
    assert len(rec.lazy_loads) == 6
    assert {x.fetch_mode for x in rec.lazy_loads} == {"FETCH_ONE"}


@needs_fetch_modes
def test_fetch_peers_is_one_load_for_all_peers(library):
    from django.db.models import FETCH_PEERS

    with CaptureQueriesContext(connection) as bare:
        names = [b.author.name for b in Book.objects.fetch_mode(FETCH_PEERS)]
    with CaptureQueriesContext(connection) as watched, djperf.capture() as rec:
        watched_names = [b.author.name for b in Book.objects.fetch_mode(FETCH_PEERS)]  # peers
    assert watched_names == names
    assert len(watched.captured_queries) == len(bare.captured_queries) == 2
    [load] = rec.lazy_loads
    assert (load.field, load.fetch_mode, load.peers) == ("author", "FETCH_PEERS", 6)
    assert len(load.queries) == 1
    assert str(load.location) == line("peers")
    author = Book.objects.fetch_mode(FETCH_PEERS)[0].author  # outside the scope
    assert author.name


@needs_fetch_modes
def test_fetch_peers_chain(library):
    from django.db.models import FETCH_PEERS

    with djperf.capture() as rec:
        for review in Review.objects.fetch_mode(FETCH_PEERS):
            review.book.publisher  # noqa: B018
    assert [(x.lookup, x.fetch_mode, x.peers) for x in rec.lazy_loads] == [
        ("book", "FETCH_PEERS", 12),
        ("book__publisher", "FETCH_PEERS", 6),
    ]


@needs_fetch_modes
def test_fetch_peers_deferred_field(library):
    from django.db.models import FETCH_PEERS

    with djperf.capture() as rec:
        for book in Book.objects.only("title").fetch_mode(FETCH_PEERS):
            book.summary  # noqa: B018
    [load] = rec.lazy_loads
    assert (load.field, load.kind, load.peers) == ("summary", "deferred_field", 6)


@needs_fetch_modes
def test_fetch_raise_goes_through_unchanged(library):
    from django.core.exceptions import FieldFetchBlocked
    from django.db.models import FETCH_RAISE

    book = Book.objects.fetch_mode(FETCH_RAISE).first()
    with pytest.raises(FieldFetchBlocked) as bare:
        book.author  # noqa: B018
    with djperf.capture() as rec:
        book = Book.objects.fetch_mode(FETCH_RAISE).first()
        with pytest.raises(FieldFetchBlocked) as watched:
            book.author  # noqa: B018
    assert str(watched.value) == str(bare.value) == "Fetching of Book.author blocked."
    assert rec.lazy_loads == []
    assert len(rec.queries) == 1


def test_a_related_manager_that_reaches_no_database_is_no_load(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            assert list(author.books.none()) == []
    assert rec.lazy_loads == []
    assert len(rec.queries) == 1
