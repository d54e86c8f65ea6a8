"""unused-eager-load: a select_related / prefetch_related nothing reads; must not flag the rest."""

from __future__ import annotations

import pytest
from django.db.models import Prefetch

import djperf
from tests.helpers import line, of
from tests.testapp.models import Author, Book, Review

pytestmark = pytest.mark.django_db
HERE = __file__


# -- must flag --------------------------------------------------------------------


def test_unused_select_related(library):
    with djperf.capture() as rec:
        [review.rating for review in Review.objects.select_related("book")]  # unused-here
    [finding] = of(rec, "unused-eager-load")
    assert finding.fix.method == "remove_select_related"
    assert finding.fix.lookup == "book"
    assert finding.fix.text == "remove the select_related() call"
    assert str(finding.location) == line(HERE, "unused-here")


def test_unused_deeper_part_of_a_select_related(library):
    with djperf.capture() as rec:
        [r.book.title for r in Review.objects.select_related("book__publisher")]
    [finding] = of(rec, "unused-eager-load")
    assert finding.fix.lookup == "book__publisher"
    assert finding.fix.text == ".select_related('book')"


def test_unused_prefetch_related(library):
    with djperf.capture() as rec:
        [a.name for a in Author.objects.prefetch_related("books", "bio")]
    lookups = sorted(f.fix.lookup for f in of(rec, "unused-eager-load"))
    assert lookups == ["bio", "books"]


def test_unused_nested_prefetch(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books__tags"):
            [book.title for book in author.books.all()]
    [finding] = of(rec, "unused-eager-load")
    assert finding.fix.lookup == "books__tags"


def test_unused_select_related_in_a_prefetch_queryset(library):
    with djperf.capture() as rec:
        authors = Author.objects.prefetch_related(
            Prefetch("books", queryset=Book.objects.select_related("publisher"))
        )
        for author in authors:
            [book.title for book in author.books.all()]
    [finding] = of(rec, "unused-eager-load")
    assert finding.fix.lookup == "publisher"
    assert finding.model == "testapp.Book"


def test_the_finding_states_what_the_eager_load_brought(library):
    with djperf.capture() as rec:
        [author.name for author in Author.objects.prefetch_related("books")]
    [finding] = of(rec, "unused-eager-load")
    assert "it prefetched 6 Book rows for 4 authors, and none was read" in finding.message
    with djperf.capture() as rec:
        [review.rating for review in Review.objects.select_related("book")]
    [finding] = of(rec, "unused-eager-load")
    assert "it joined 12 Book rows for 12 reviews, and none was read" in finding.message


def test_every_eager_load_site_is_kept_with_its_evidence(library):
    def authors():
        queryset = Author.objects.prefetch_related("books", "bio")  # sites-line
        return [[book.title for book in a.books.all()] for a in queryset]

    with djperf.capture() as rec:
        authors()
    sites = {(load.lookup, load.method): load for load in rec.eager_loads}
    assert set(sites) == {("books", "prefetch_related"), ("bio", "prefetch_related")}
    assert (sites["books", "prefetch_related"].used, sites["books", "prefetch_related"].rows) == (
        True,
        6,
    )
    assert (sites["bio", "prefetch_related"].used, sites["bio", "prefetch_related"].rows) == (
        False,
        3,
    )
    assert str(sites["bio", "prefetch_related"].location) == line(HERE, "sites-line")
    # The key is the same in the next capture of the same code: a suite can
    # add up its sites test by test.
    with djperf.capture() as again:
        authors()
    assert {load.key for load in again.eager_loads} == {load.key for load in rec.eager_loads}
    bio = sites["bio", "prefetch_related"]
    assert bio.key == f"{bio.location} testapp.Author prefetch_related('bio')"
    assert type(bio).from_dict(bio.to_dict()) == bio


# -- must not flag -------------------------------------------------------------------


def test_used_select_related(library):
    with djperf.capture() as rec:
        [r.book.publisher.name for r in Review.objects.select_related("book__publisher")]
    assert rec.findings == []


def test_used_through_a_related_manager_of_an_object_from_no_queryset(library):
    # The author was loaded before the capture (a test's own object): its
    # books' joins and prefetches are used through the manager's queryset.
    author = Author.objects.filter(books__isnull=False).first()
    with djperf.capture() as rec:
        books = author.books.select_related("publisher").prefetch_related("tags")
        for book in books:
            book.publisher  # noqa: B018
            list(book.tags.all())
    assert of(rec, "unused-eager-load") == []
    with djperf.capture() as rec:
        for book in author.books.select_related("publisher").prefetch_related("tags"):
            book.title  # noqa: B018
    [unused] = of(rec, "unused-eager-load")
    assert unused.message.startswith("Book queryset asked for select_related 'publisher'")


def test_used_select_related_through_a_reverse_one_to_one_query_name(library):
    from djperf.detect._models import attribute_path
    from tests.testapp.models import Portrait

    for author in Author.objects.all():
        Portrait.objects.create(author=author, caption=f"of {author.name}")
    with djperf.capture() as rec:
        reviews = Review.objects.select_related("book__author__painted")
        [review.book.author.portrait.caption for review in reviews]
    assert rec.findings == []
    # select_related's query names, as instances hold them.
    assert attribute_path(Author, "painted__author") == "portrait__author"
    assert attribute_path(Review, "book__author__painted") == "book__author__portrait"
    assert attribute_path(Review, "no_such__thing") == "no_such__thing"


def test_used_prefetch_in_a_template(library):
    from django.template import Context, Template

    template = Template(
        "{% for a in authors %}{% for b in a.books.all %}{{ b }}{% endfor %}{% endfor %}"
    )
    with djperf.capture() as rec:
        template.render(Context({"authors": Author.objects.prefetch_related("books")}))
    assert rec.findings == []


def test_not_judged_without_rows(library):
    with djperf.capture() as rec:
        list(Review.objects.filter(rating=99).select_related("book"))
    assert rec.findings == []


def test_not_judged_for_to_attr_prefetches(library):
    with djperf.capture() as rec:
        authors = list(Author.objects.prefetch_related(Prefetch("books", to_attr="book_list")))
    assert authors and rec.findings == []


def test_used_by_one_of_several_evaluations_of_the_same_line(library):
    def titles(rating, read):
        reviews = list(Review.objects.filter(rating=rating).select_related("book"))
        return [r.book.title for r in reviews] if read else []

    with djperf.capture() as rec:
        titles(0, read=False)
        titles(1, read=True)
    assert of(rec, "unused-eager-load") == []


def test_used_reverse_one_to_one_by_query_name(library):
    with djperf.capture() as rec:
        [a.bio.text for a in Author.objects.filter(bio__isnull=False).select_related("bio")]
    assert rec.findings == []


def test_used_in_another_thread(library):
    from concurrent.futures import ThreadPoolExecutor

    with djperf.capture() as rec:
        reviews = list(Review.objects.select_related("book"))
        with ThreadPoolExecutor(max_workers=2) as pool:
            titles = list(pool.map(lambda review: review.book.title, reviews))
    assert len(titles) == 12
    assert of(rec, "unused-eager-load") == []


def test_not_judged_once_pickled(library):
    # Instances that went into a cache (pickled) are used out of sight.
    from django.core.cache import cache

    with djperf.capture() as rec:
        cache.set("djperf-test-reviews", list(Review.objects.select_related("book")))
    cache.delete("djperf-test-reviews")
    assert of(rec, "unused-eager-load") == []


def test_used_generic_foreign_key_prefetch(library):
    from tests.testapp.models import Note

    with djperf.capture() as rec:
        [note.content_object.title for note in Note.objects.prefetch_related("content_object")]
    assert rec.findings == []


def test_used_reverse_one_to_one_that_is_missing(library):
    # select_related("bio") found no row: reading author.bio raises, and
    # that read used the join all the same.
    from tests.testapp.models import Bio

    with djperf.capture() as rec:
        for author in Author.objects.filter(name="nobody").select_related("bio"):
            with pytest.raises(Bio.DoesNotExist):
                author.bio  # noqa: B018
    assert rec.findings == []


def test_not_a_prefetch_that_brought_no_rows(library):
    # The author has no books: nothing to read, so nothing says the prefetch
    # is useless (on an author with books it saves an N+1).
    with djperf.capture() as rec:
        [author.name for author in Author.objects.filter(name="nobody").prefetch_related("books")]
    assert [(load.lookup, load.rows) for load in rec.eager_loads] == [("books", 0)]
    assert of(rec, "unused-eager-load") == []


def test_not_a_join_whose_related_rows_are_all_null(library):
    author = Author.objects.first()
    Book.objects.bulk_create(Book(title=f"self-published {n}", author=author) for n in range(3))
    with djperf.capture() as rec:
        books = Book.objects.filter(publisher=None).select_related("publisher")
        [book.title for book in books]
    assert [(load.lookup, load.rows) for load in rec.eager_loads] == [("publisher", 0)]
    assert of(rec, "unused-eager-load") == []


def test_an_unused_eager_load_in_test_code_is_the_tests(library):
    from tests import as_tests
    from tests.helpers import line

    with djperf.capture() as rec:
        as_tests.evaluate(Review.objects.select_related("book"))  # asked-here
    [finding] = of(rec, "unused-eager-load")
    # Located where the select_related() is written; the test's, since only
    # test code evaluated it.
    assert str(finding.location) == line(HERE, "asked-here")
    assert str(finding.origin) == line("tests/as_tests.py", "evaluated-here")
    assert finding.in_tests and finding.severity == "info"


def _rated_reviews():
    return Review.objects.filter(rating__gte=0)  # built-in-a-method


def _authors_named():
    return Author.objects.filter(name__startswith="A")


def test_an_eager_load_a_caller_added_is_located_at_the_caller(library):
    # As FeedType.items(): FeedItem.objects.approved().select_related(...):
    # the queryset is built in a method, the select_related() is the caller's.
    with djperf.capture() as rec:
        [review.rating for review in _rated_reviews().select_related("book")]  # caller-joins
        [a.name for a in _authors_named().prefetch_related(Prefetch("books"))]  # caller-prefetches
    by_lookup = {f.fix.lookup: f for f in of(rec, "unused-eager-load")}
    assert str(by_lookup["book"].location) == line(HERE, "caller-joins")
    assert str(by_lookup["books"].location) == line(HERE, "caller-prefetches")
    assert by_lookup["book"].fix.text == "remove the select_related() call"
    assert str(by_lookup["book"].built) == line(HERE, "built-in-a-method")


def test_a_queryset_built_for_several_callers_is_judged_by_all_of_them(library):
    def reviews():
        return Review.objects.select_related("book")  # one-builder

    with djperf.capture() as rec:
        [review.rating for review in reviews()]  # reads no book
        [review.book.title for review in reviews()]  # reads the books
    assert of(rec, "unused-eager-load") == []
    with djperf.capture() as rec:
        [review.rating for review in reviews()]
        [review.pk for review in reviews()]
    [finding] = of(rec, "unused-eager-load")
    assert str(finding.location) == line(HERE, "one-builder")
