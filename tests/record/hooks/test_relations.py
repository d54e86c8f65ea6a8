"""Every lazy load is recorded, with the relation, the access line and the provenance.

The cases from a past review (lazy loads in the harder cases: filtered relations,
to_attr, custom managers, writes, querysets built before a capture) use their own
data, `library_with_portraits`."""

from __future__ import annotations

import pickle
import weakref

import django
import pytest
from asgiref.sync import async_to_sync
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import FilteredRelation, Prefetch, Q
from django.test.utils import CaptureQueriesContext

import djperf
from djperf.record import hooks
from djperf.record.hooks import relations
from tests import helpers
from tests.testapp.models import (
    Author,
    Bio,
    Book,
    Edition,
    Note,
    Publisher,
    Review,
    Tag,
)

pytestmark = pytest.mark.django_db

SIX_ONE = django.VERSION >= (6, 1)
needs_fetch_modes = pytest.mark.skipif(not SIX_ONE, reason="fetch modes need Django 6.1")


def line(marker: str) -> str:
    """'tests/record/hooks/test_relations.py:<n>' for the line carrying `# <marker>`."""
    return helpers.line(__file__, marker)


@pytest.fixture
def reinstalled():
    yield
    hooks.install()


def loads_of(rec, field):
    return [load for load in rec.lazy_loads if load.field == field]


# -- each relation kind -----------------------------------------------------


def test_forward_foreign_key(rich_library):
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


def test_forward_one_to_one(rich_library):
    with djperf.capture() as rec:
        for bio in Bio.objects.all():
            bio.author  # noqa: B018
    assert {(x.model, x.field, x.kind) for x in rec.lazy_loads} == {
        ("testapp.Bio", "author", "one_to_one")
    }
    assert len(rec.lazy_loads) == 3


def test_reverse_one_to_one(rich_library):
    with djperf.capture() as rec:
        for author in Author.objects.filter(bio__isnull=False):
            author.bio  # noqa: B018 # bio-access
    assert len(rec.lazy_loads) == 3
    load = rec.lazy_loads[0]
    assert (load.model, load.field, load.kind) == ("testapp.Author", "bio", "reverse_one_to_one")
    assert load.related_model == "testapp.Bio"
    assert str(load.location) == line("bio-access")


def test_reverse_one_to_one_that_does_not_exist_is_still_a_load(rich_library):
    lonely = Author.objects.get(name="no bio, no books")
    with djperf.capture() as rec, pytest.raises(Author.bio.RelatedObjectDoesNotExist):
        lonely.bio  # noqa: B018
    assert [x.field for x in rec.lazy_loads] == ["bio"]


def test_reverse_one_to_one_loaded_lazily_is_named_by_its_accessor(library_with_portraits):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            author.portrait  # noqa: B018
    assert {(x.field, x.kind) for x in rec.lazy_loads} == {("portrait", "reverse_one_to_one")}


def test_reverse_foreign_key_with_related_name(rich_library):
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


def test_reverse_foreign_key_without_related_name(rich_library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            [chapter.title for chapter in book.chapter_set.all()]
    assert {(x.field, x.kind) for x in rec.lazy_loads} == {("chapter_set", "reverse_foreign_key")}
    assert len(rec.lazy_loads) == 6


def test_publisher_book_set(rich_library):
    with djperf.capture() as rec:
        for publisher in Publisher.objects.all():
            list(publisher.book_set.all())
    assert [x.field for x in rec.lazy_loads] == ["book_set", "book_set"]


def test_many_to_many_forward(rich_library):
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


def test_many_to_many_reverse(rich_library):
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


def test_generic_foreign_key(rich_library):
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


def test_generic_foreign_key_cold_content_type_cache(rich_library):
    ContentType.objects.clear_cache()
    with djperf.capture() as rec:
        for note in Note.objects.all():
            note.content_object  # noqa: B018
    assert len(rec.lazy_loads) == 6
    # The first load also looked the content type up; the loaded object is still the book.
    assert {x.related_model for x in rec.lazy_loads} == {"testapp.Book"}
    assert all(x.evaluation.model == "testapp.Book" for x in rec.lazy_loads)


def test_generic_relation(rich_library):
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


def test_deferred_field_with_only(rich_library):
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


def test_deferred_field_with_defer(rich_library):
    with djperf.capture() as rec:
        for book in Book.objects.defer("summary"):
            book.summary  # noqa: B018
    assert [x.field for x in rec.lazy_loads] == ["summary"] * 6


def test_deferred_foreign_key_column_is_named_as_written(rich_library):
    with djperf.capture() as rec:
        for book in Book.objects.only("title"):
            book.author_id  # noqa: B018
    assert {(x.field, x.kind) for x in rec.lazy_loads} == {("author_id", "deferred_field")}


def test_loaded_fields_are_not_loads(rich_library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.summary, book.title, book.author_id  # noqa: B018
    assert rec.lazy_loads == []


def test_parent_link_built_from_the_row_is_not_a_load(rich_library):
    Edition.objects.create(title="E", author=rich_library["authors"][0], year=1999)
    with djperf.capture() as rec:
        for edition in Edition.objects.all():
            edition.book_ptr  # noqa: B018
    assert rec.lazy_loads == []


def test_count_on_a_related_manager_is_a_query_not_a_load(rich_library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            author.books.count()
    assert rec.lazy_loads == []
    assert len(rec.queries) == 5


def test_a_related_manager_that_reaches_no_database_is_no_load(rich_library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            assert list(author.books.none()) == []
    assert rec.lazy_loads == []
    assert len(rec.queries) == 1


# -- nothing to report when the relations were fetched eagerly ------------------


def test_select_related_is_not_a_load(rich_library):
    with djperf.capture() as rec:
        for review in Review.objects.select_related("book__publisher"):
            review.book.publisher.name  # noqa: B018
    assert rec.lazy_loads == []
    assert len(rec.queries) == 1


def test_prefetch_related_is_not_a_load(rich_library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books__tags", "bio"):
            for book in author.books.all():
                list(book.tags.all())
    assert rec.lazy_loads == []
    assert len(rec.queries) == 4


# -- the lookup a load is named by, from the root of its provenance ------------------


def test_chain_through_lazy_loads_is_named_from_the_root(rich_library):
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


def test_chain_through_a_reverse_manager(rich_library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            for book in author.books.all():
                book.publisher  # noqa: B018
    assert {x.lookup for x in loads_of(rec, "publisher")} == {"books__publisher"}


def test_relation_reached_through_a_prefetch(rich_library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):  # prefetch-origin
            for book in author.books.all():
                list(book.tags.all())
    loads = loads_of(rec, "tags")
    assert len(loads) == 6
    assert {x.lookup for x in loads} == {"books__tags"}
    assert {str(x.origin) for x in loads} == {line("prefetch-origin")}


def test_relation_reached_through_select_related(rich_library):
    with djperf.capture() as rec:
        for review in Review.objects.select_related("book"):
            review.book.publisher  # noqa: B018
    assert {x.lookup for x in rec.lazy_loads} == {"book__publisher"}
    assert len(rec.lazy_loads) == 12


def test_select_related_through_a_filtered_relation(library_with_portraits):
    with djperf.capture() as rec:
        reviews = Review.objects.annotate(
            good=FilteredRelation("book", condition=Q(book__title__startswith="B"))
        ).select_related("good")
        for review in reviews:
            review.good.publisher  # noqa: B018
    assert len(rec.lazy_loads) == 6
    assert {load.lookup for load in rec.lazy_loads} == {"good__publisher"}
    assert all(load.origin is not None for load in rec.lazy_loads)


def test_relation_of_a_to_attr_prefetch_goes_through_the_attribute(library_with_portraits):
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


def test_instance_from_outside_the_scope_has_no_source(rich_library):
    book = Book.objects.first()
    with djperf.capture() as rec:
        book.author  # noqa: B018
    [load] = rec.lazy_loads
    assert load.source is None
    assert load.origin is None
    assert load.lookup == "author"


def test_bypassed_prefetch(rich_library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):
            list(author.books.filter(title__startswith="B"))
    assert len(rec.lazy_loads) == 4
    assert all(x.bypassed_prefetch for x in rec.lazy_loads)


def test_not_prefetched_is_not_bypassed(rich_library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books.filter(title__startswith="B"))
    assert rec.lazy_loads and not any(x.bypassed_prefetch for x in rec.lazy_loads)


def test_async_for_and_async_managers(rich_library):
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


# -- related managers: custom managers, writes, querysets built before a capture ----


def test_manager_classes_built_before_install_are_rebuilt(reinstalled):
    author = Author.objects.create(name="A")
    Book.objects.create(title="T", author=author)
    hooks.uninstall()
    author.books.all()  # Django builds and caches the manager class unwatched
    hooks.install()
    with djperf.capture() as rec:
        list(author.books.all())
    assert [x.field for x in rec.lazy_loads] == ["books"]


def test_related_manager_called_with_a_manager(library_with_portraits):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books(manager="objects").all())
    assert [load.field for load in rec.lazy_loads] == ["books"] * 3


def test_queryset_built_before_the_capture(library_with_portraits):
    author = Author.objects.first()
    books = author.books.all()
    with djperf.capture() as rec:
        list(books)
    assert [load.field for load in rec.lazy_loads] == ["books"]


def test_deleting_through_a_related_manager_is_no_load(library_with_portraits):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            author.books.all().delete()
    assert rec.lazy_loads == []
    assert Book.objects.count() == 0
    assert len(rec.queries) > 3


def test_setting_a_related_manager_is_no_load(library_with_portraits):
    other = Author.objects.create(name="other")
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):
            author.books.set(list(Book.objects.filter(author=author)))
        other.books.set([])
        list(Tag.objects.first().books.all())
    assert [(x.model, x.field) for x in rec.lazy_loads] == [("testapp.Tag", "books")]


def test_pickled_querysets_carry_no_mark(library_with_portraits):
    author = Author.objects.first()
    with djperf.capture():
        books = author.books.all()
        list(books)
    assert books.query.__dict__.get(relations.MARK) is not None
    clone = pickle.loads(pickle.dumps(books))
    assert clone.query.__dict__.get(relations.MARK) is None
    assert [b.pk for b in clone] == [b.pk for b in books]


def test_querysets_of_related_managers_pickle(rich_library):
    author = Author.objects.first()
    with djperf.capture():
        books = author.books.all()
        list(books)
    assert [b.pk for b in pickle.loads(pickle.dumps(books))] == [b.pk for b in books]


def test_an_instance_watched_after_a_load_pickles_and_copies_without_djperf(library):
    import copy

    from djperf.record.hooks import usage

    book = Book.objects.first()
    with djperf.capture():
        book.author  # noqa: B018  (the load that starts the watch)
    assert book.__dict__.get(usage.LOADED)
    clone = pickle.loads(pickle.dumps(book))
    assert clone.__dict__.get(usage.LOADED) is None
    assert clone.author.pk == book.author.pk
    assert copy.deepcopy(book).author.pk == book.author.pk


# -- djperf changes nothing ------------------------------------------------------


def test_results_and_queries_are_unchanged(rich_library):
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


def test_a_recording_does_not_keep_instances_alive(rich_library):
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


# -- Django 6.1 fetch modes -------------------------------------------------------


@needs_fetch_modes
def test_fetch_one_is_recorded(rich_library):
    from django.db.models import FETCH_ONE

    with djperf.capture() as rec:
        for book in Book.objects.fetch_mode(FETCH_ONE):
            book.author  # noqa: B018
    assert len(rec.lazy_loads) == 6
    assert {x.fetch_mode for x in rec.lazy_loads} == {"FETCH_ONE"}


@needs_fetch_modes
def test_fetch_peers_is_one_load_for_all_peers(rich_library):
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
def test_fetch_peers_chain(rich_library):
    from django.db.models import FETCH_PEERS

    with djperf.capture() as rec:
        for review in Review.objects.fetch_mode(FETCH_PEERS):
            review.book.publisher  # noqa: B018
    assert [(x.lookup, x.fetch_mode, x.peers) for x in rec.lazy_loads] == [
        ("book", "FETCH_PEERS", 12),
        ("book__publisher", "FETCH_PEERS", 6),
    ]


@needs_fetch_modes
def test_fetch_peers_deferred_field(rich_library):
    from django.db.models import FETCH_PEERS

    with djperf.capture() as rec:
        for book in Book.objects.only("title").fetch_mode(FETCH_PEERS):
            book.summary  # noqa: B018
    [load] = rec.lazy_loads
    assert (load.field, load.kind, load.peers) == ("summary", "deferred_field", 6)


@needs_fetch_modes
def test_fetch_raise_goes_through_unchanged(rich_library):
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


@pytest.mark.skipif(not SIX_ONE, reason="fetch modes need Django 6.1")
def test_fetch_peers_load_knows_what_it_built(library_with_portraits):
    from django.db.models import FETCH_PEERS

    with djperf.capture() as rec:
        notes = list(Note.objects.fetch_mode(FETCH_PEERS))
        [note.content_object for note in notes]
    [load] = rec.lazy_loads
    assert load.related_model == "testapp.Book"
    assert load.evaluation is not None and load.evaluation.model == "testapp.Book"
    assert load.peers == 6


@pytest.mark.skipif(not SIX_ONE, reason="fetch modes need Django 6.1")
def test_fetch_peers_counts_only_the_peers_it_fetches(library_with_portraits):
    from django.db.models import FETCH_PEERS

    with djperf.capture() as rec:
        books = list(Book.objects.fetch_mode(FETCH_PEERS))
        books[0].author  # noqa: B018 - loads the authors of all six
        books[3].publisher = Publisher.objects.first()  # one publisher already known
        [book.publisher for book in books]
    assert [(x.field, x.peers) for x in rec.lazy_loads] == [("author", 6), ("publisher", 5)]


def test_a_prefetch_with_no_capture_open_marks_nothing(library_with_portraits):
    # Its per-instance querysets get their rows from the prefetch: marking
    # them would cost djperf idle on every prefetch (docs/benchmarks.md).
    authors = list(Author.objects.prefetch_related("books"))
    assert authors[0]._prefetched_objects_cache["books"]._query.__dict__.get(relations.MARK) is None
    with djperf.capture():
        authors = list(Author.objects.prefetch_related("books"))
    # Capturing, they are marked: a .filter() of one is a load that bypassed it.
    marked = authors[0]._prefetched_objects_cache["books"]._query.__dict__.get(relations.MARK)
    assert marked is not None
