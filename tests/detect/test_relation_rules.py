"""deferred-field, prefetch-bypassed, unused-eager-load."""

from __future__ import annotations

import pytest
from django.db.models import Prefetch

import djperf
from tests.detect.conftest import line, of
from tests.testapp.models import Author, Book, Review

pytestmark = pytest.mark.django_db
HERE = __file__


# -- deferred-field: must flag ----------------------------------------------------


def test_deferred_with_only_names_the_field_to_add(library):
    with djperf.capture() as rec:
        for book in Book.objects.only("title"):  # only-origin
            book.summary  # noqa: B018 # only-access
    [finding] = of(rec, "deferred-field")
    assert (finding.model, finding.field, finding.count) == ("testapp.Book", "summary", 6)
    assert finding.fix.method == "only"
    assert finding.fix.text == ".only('title', 'summary')"
    assert str(finding.location) == line(HERE, "only-access")
    assert str(finding.origin) == line(HERE, "only-origin")


def test_deferred_with_defer_names_what_remains(library):
    with djperf.capture() as rec:
        for book in Book.objects.defer("summary", "title"):
            book.summary  # noqa: B018
    [finding] = of(rec, "deferred-field")
    assert finding.fix.method == "defer"
    assert finding.fix.text == ".defer('title')"


def test_deferred_with_a_single_defer(library):
    with djperf.capture() as rec:
        for book in Book.objects.defer("summary"):
            book.summary  # noqa: B018
    [finding] = of(rec, "deferred-field")
    assert finding.fix.text == "remove .defer('summary')"


@pytest.mark.parametrize("to_attr", [None, "chapters"])
def test_deferred_by_a_prefetch_queryset_names_the_prefetch(library, to_attr):
    from tests.testapp.models import Chapter

    path = to_attr or "chapter_set"
    with djperf.capture() as rec:
        books = Book.objects.prefetch_related(
            Prefetch(
                "chapter_set",
                queryset=Chapter.objects.filter(title__startswith="c").only("id", "book"),
                to_attr=to_attr,
            )
        )
        for book in books:  # prefetch-origin
            chapters = getattr(book, path) if to_attr else book.chapter_set.all()
            [chapter.title for chapter in chapters]
    [finding] = of(rec, "deferred-field")
    assert finding.count == 12
    assert finding.fix.method == "Prefetch"
    assert finding.fix.text == (
        f".only('book', 'id', 'title') on the queryset of the {path!r} prefetch "
        f"(the Prefetch(..., queryset=...) of the queryset at {line(HERE, 'prefetch-origin')})"
    )


def test_deferred_by_a_related_managers_queryset_names_that_queryset(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            for book in author.books.only("title", "author"):  # manager-only
                book.summary  # noqa: B018
    [finding] = of(rec, "deferred-field")
    assert finding.fix.text == (
        f".only('author', 'title', 'summary') where {line(HERE, 'manager-only')} builds it"
    )


def test_deferred_fix_is_proved(library):
    def work():
        return [book.summary for book in Book.objects.only("title")]

    with djperf.capture() as rec:
        work()
    [trial] = djperf.verify(work, rec.findings).trials
    assert (trial.before.queries, trial.after.queries, trial.same_result) == (7, 1, True)


# -- deferred-field: must not flag -------------------------------------------------


def test_deferred_not_when_the_field_is_not_read(library):
    with djperf.capture() as rec:
        [book.title for book in Book.objects.only("title")]
    assert rec.findings == []


def test_deferred_not_for_one_instance(library):
    with djperf.capture() as rec:
        Book.objects.only("title").first().summary  # noqa: B018
    assert of(rec, "deferred-field") == []


def test_deferred_not_when_only_includes_it(library):
    with djperf.capture() as rec:
        [book.summary for book in Book.objects.only("title", "summary")]
    assert rec.findings == []


def test_deferred_not_after_refresh_from_db(library):
    with djperf.capture() as rec:
        book = Book.objects.first()
        book.refresh_from_db()
        book.summary  # noqa: B018
    assert rec.findings == []


# -- prefetch-bypassed: must flag -----------------------------------------------


def test_prefetch_filtered_again(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):  # bypass-origin
            list(author.books.filter(title__endswith="0"))  # bypass-access
    [finding] = of(rec, "prefetch-bypassed")
    assert (finding.model, finding.field, finding.count) == ("testapp.Author", "books", 4)
    assert "Prefetch('books', queryset=Book.objects.filter(...)" in finding.fix.text
    assert str(finding.location) == line(HERE, "bypass-access")
    assert str(finding.origin) == line(HERE, "bypass-origin")


def test_prefetch_reordered_again(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):
            list(author.books.order_by("-title"))
    assert len(of(rec, "prefetch-bypassed")) == 1


# -- prefetch-bypassed: must not flag ----------------------------------------------


def test_prefetch_not_bypassed_when_all_is_used(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):
            list(author.books.all())
    assert rec.findings == []


def test_prefetch_not_bypassed_with_a_prefetch_object(library):
    with djperf.capture() as rec:
        authors = Author.objects.prefetch_related(
            Prefetch("books", queryset=Book.objects.filter(title__endswith="0"), to_attr="firsts")
        )
        for author in authors:
            list(author.firsts)
    assert rec.findings == []


def test_prefetch_not_bypassed_without_a_prefetch(library):
    with djperf.capture() as rec:
        Author.objects.first().books.filter(title__endswith="0").first()
    assert of(rec, "prefetch-bypassed") == []


# -- unused-eager-load: must flag --------------------------------------------------


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


# -- unused-eager-load: must not flag -----------------------------------------------


def test_used_select_related(library):
    with djperf.capture() as rec:
        [r.book.publisher.name for r in Review.objects.select_related("book__publisher")]
    assert rec.findings == []


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
