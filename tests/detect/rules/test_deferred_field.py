"""deferred-field: a field only() or defer() left out, then read row by row, names the
field to load; must not flag the rest."""

from __future__ import annotations

import pytest
from django.db.models import Prefetch

import djperf
from tests.helpers import line, of
from tests.testapp.models import Author, Book

pytestmark = pytest.mark.django_db
HERE = __file__


# -- must flag --------------------------------------------------------------------


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


def test_a_wide_column_read_on_a_few_of_many_rows_says_what_only_would_load(library):
    # As a search view evaluating every match and showing two: only() with
    # the column loads it for every match.
    with djperf.capture() as rec:
        shown = [book.summary for book in Book.objects.only("title") if book.title < "B02"]
    assert len(shown) == 2
    [finding] = of(rec, "deferred-field")
    assert finding.fix.text == (
        ".only('title', 'summary')  # only 2 of the 6 rows read summary: this loads the "
        "column for all 6. If its values are large and only the rows shown read it, keep "
        "it deferred and load it for those rows at once (Book.objects.filter(pk__in=<their "
        "keys>).values_list('pk', 'summary')), or annotate only the part they read"
    )


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


def test_verify_leaves_a_deferred_field_finding_as_it_was(shelf):
    # deferred-field's "defer" stops deferring; it never defers more.
    def summaries():
        return [book.summary for book in Book.objects.defer("summary")[:3]]

    with djperf.capture() as rec:
        summaries()
    [trial] = djperf.verify(summaries, of(rec, "deferred-field"))
    assert trial.applied and trial.same_result
    assert (trial.before.queries, trial.after.queries) == (4, 1)


# -- must not flag -------------------------------------------------------------------


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


def test_deferred_not_after_only_on_a_single_get(library):
    with djperf.capture() as rec:
        book = Book.objects.only("title").get(title="B00")
        summary = book.summary
    assert summary == "s" * 50
    assert [(load.field, load.kind) for load in rec.lazy_loads] == [("summary", "deferred_field")]
    assert len(rec.queries) == 2
    assert of(rec, "deferred-field") == []


def test_deferred_not_when_read_on_one_row_of_many(library):
    with djperf.capture() as rec:
        summaries = [book.summary for book in Book.objects.only("title") if book.title == "B00"]
    assert summaries == ["s" * 50]
    assert len(rec.queries) == 2
    assert of(rec, "deferred-field") == []


def test_deferred_not_after_refresh_from_db_of_the_deferred_field(library):
    # Loaded once, explicitly: the read that follows does not query.
    with djperf.capture() as rec:
        book = Book.objects.only("title").get(title="B00")
        book.refresh_from_db(fields=["summary"])
        summary = book.summary
    assert summary == "s" * 50
    assert len(rec.queries) == 2
    assert of(rec, "deferred-field") == []


def test_deferred_not_when_assigned_before_it_is_read(library):
    with djperf.capture() as rec:
        summaries = []
        for book in Book.objects.only("title"):
            book.summary = book.title.lower()
            summaries.append(book.summary)
    assert sorted(summaries) == ["b00", "b01", "b10", "b11", "b20", "b21"]
    assert len(rec.queries) == 1
    assert of(rec, "deferred-field") == []


def test_deferred_not_when_the_prefetch_queryset_loads_it(library):
    from tests.testapp.models import Chapter

    with djperf.capture() as rec:
        books = Book.objects.prefetch_related(
            Prefetch("chapter_set", queryset=Chapter.objects.only("id", "book", "title"))
        )
        titles = [chapter.title for book in books for chapter in book.chapter_set.all()]
    assert len(titles) == 12
    assert set(titles) == {"c0", "c1"}
    assert len(rec.queries) == 2
    assert of(rec, "deferred-field") == []


def test_deferred_not_for_a_related_field_only_loads(library):
    with djperf.capture() as rec:
        books = Book.objects.select_related("author").only("title", "author__name")
        names = sorted(book.author.name for book in books)
    assert names == ["A0", "A0", "A1", "A1", "A2", "A2"]
    assert len(rec.queries) == 1
    assert of(rec, "deferred-field") == []


def test_a_json_column_read_for_one_key_offers_that_key_alone(db):
    from tests.testapp.models import Page

    Page.objects.bulk_create(
        [Page(path=f"p{n}", meta={"parents": "website", "body": "x" * 100}) for n in range(4)]
    )
    with djperf.capture() as rec:
        for page in Page.objects.only("path"):
            page.meta.get("parents")  # one-key
    [finding] = of(rec, "deferred-field")
    assert finding.fix.text == (
        f".only('path', 'meta')  # {line(HERE, 'one-key')} reads only meta['parents']: to "
        "load that key alone, not the whole JSON, .annotate(meta_parents=KeyTransform("
        "'parents', 'meta')) (from django.db.models.fields.json import KeyTransform) on that "
        "queryset instead, and read page.meta_parents there (with the meta read as now for "
        "objects from elsewhere, which lack it)"
    )
    # The annotation reads the key as the line did, on every backend.
    from django.db.models.fields.json import KeyTransform

    annotated = Page.objects.only("path").annotate(meta_parents=KeyTransform("parents", "meta"))
    assert [page.meta_parents for page in annotated] == ["website"] * 4


def test_a_json_column_read_whole_is_only_added(db):
    from tests.testapp.models import Page

    Page.objects.bulk_create([Page(path=f"p{n}", meta={"parents": "x"}) for n in range(4)])
    with djperf.capture() as rec:
        for page in Page.objects.only("path"):
            dict(page.meta)
    [finding] = of(rec, "deferred-field")
    assert finding.fix.text == ".only('path', 'meta')"
