"""n-plus-one: must flag every relation kind with the exact fix; must not flag the rest."""

from __future__ import annotations

import django
import pytest
from asgiref.sync import async_to_sync
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Prefetch
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext

import djperf
from tests.helpers import class_line, line, of, page
from tests.testapp import admin_site
from tests.testapp.models import Author, Bio, Book, Note, Publisher, Review, Tag

SKIPPED_TITLES = ("nothing",)

pytestmark = pytest.mark.django_db
SIX_ONE = django.VERSION >= (6, 1)
HERE = __file__


def one(rec):
    [finding] = of(rec, "n-plus-one")
    return finding


# -- must flag --------------------------------------------------------------------


def test_forward_foreign_key(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():  # fk-origin
            book.author.name  # noqa: B018 # fk-access
    finding = one(rec)
    assert (finding.model, finding.field, finding.count) == ("testapp.Book", "author", 6)
    assert finding.fix.method == "select_related"
    assert finding.fix.lookup == "author"
    assert finding.fix.text == ".select_related('author')"
    assert str(finding.location) == line(HERE, "fk-access")
    assert str(finding.origin) == line(HERE, "fk-origin")
    assert finding.severity == "warning"
    assert finding.duration > 0
    assert "6 queries" in finding.message


def test_chain_gives_the_full_lookup(library):
    with djperf.capture() as rec:
        for review in Review.objects.all():
            review.book.publisher.name  # noqa: B018
    fixes = {f.field: f.fix.text for f in of(rec, "n-plus-one")}
    assert fixes == {
        "book": ".select_related('book')",
        "publisher": ".select_related('book__publisher')",
    }


def test_many_to_many_through_a_foreign_key(library):
    with djperf.capture() as rec:
        for review in Review.objects.select_related("book"):
            list(review.book.tags.all())
    assert one(rec).fix.text == ".prefetch_related('book__tags')"


def test_reverse_foreign_key_uses_the_accessor(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books.all())
    assert one(rec).fix.text == ".prefetch_related('books')"


def test_reverse_foreign_key_without_related_name(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            list(book.chapter_set.all())
    assert one(rec).fix.text == ".prefetch_related('chapter_set')"


def test_forward_one_to_one(library):
    with djperf.capture() as rec:
        for bio in Bio.objects.all():
            bio.author  # noqa: B018
    assert one(rec).fix.text == ".select_related('author')"


def test_reverse_one_to_one(library):
    with djperf.capture() as rec:
        for author in Author.objects.filter(bio__isnull=False):
            author.bio  # noqa: B018
    assert one(rec).fix.text == ".select_related('bio')"


def test_many_to_many_reverse(library):
    with djperf.capture() as rec:
        for tag in Tag.objects.all():
            list(tag.books.all())
    assert one(rec).fix.text == ".prefetch_related('books')"


def test_generic_foreign_key_is_prefetched(library):
    ContentType.objects.get_for_model(Book)
    with djperf.capture() as rec:
        for note in Note.objects.all():
            note.content_object  # noqa: B018
    assert one(rec).fix.text == ".prefetch_related('content_object')"


def test_generic_relation(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            list(book.notes.all())
    assert one(rec).fix.text == ".prefetch_related('notes')"


def test_relation_reached_through_a_prefetch(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):  # prefetch-origin
            for book in author.books.all():
                book.publisher  # noqa: B018
    finding = one(rec)
    assert finding.fix.text == ".prefetch_related('books__publisher')"
    assert str(finding.origin) == line(HERE, "prefetch-origin")


def test_relation_reached_through_a_to_attr_prefetch(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related(Prefetch("books", to_attr="book_list")):
            for book in author.book_list:
                list(book.tags.all())
    assert one(rec).fix.text == ".prefetch_related('book_list__tags')"


def test_one_finding_per_problem_not_per_access(library):
    with djperf.capture() as rec:
        for review in Review.objects.all():
            review.book  # noqa: B018
    assert len(of(rec, "n-plus-one")) == 1
    assert one(rec).count == 12


def test_template_loop_points_at_the_template_line(library):
    template = Template(
        "{% for book in books %}\n  {{ book.title }} by {{ book.author.name }}\n{% endfor %}"
    )
    with djperf.capture() as rec:
        template.render(Context({"books": Book.objects.all()}))
    finding = one(rec)
    assert finding.location.line == 2
    assert finding.location.function == "{{ book.author.name }}"
    assert finding.origin.line == 1
    assert finding.origin.function == "{% for book in books %}"


def test_template_file_and_line(library, tmp_path, settings):
    (tmp_path / "books.html").write_text(
        "<ul>\n{% for book in books %}\n<li>{{ book.publisher.name }}</li>\n{% endfor %}\n</ul>\n"
    )
    settings.TEMPLATES = [
        {"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [str(tmp_path)]}
    ]
    from django.template.loader import render_to_string

    with djperf.capture() as rec:
        render_to_string("books.html", {"books": Book.objects.all()})
    finding = one(rec)
    assert finding.location.path == str(tmp_path / "books.html")
    assert finding.location.line == 3


def test_async_loop(library):
    async def view():
        async with djperf.capture() as rec:
            async for author in Author.objects.all():
                [book async for book in author.books.all()]
        return rec

    rec = async_to_sync(view)()
    assert one(rec).fix.text == ".prefetch_related('books')"


def test_built_elsewhere_is_reported(library):
    def books_query():
        return Book.objects.filter(title__startswith="B")  # built-here

    with djperf.capture() as rec:
        for book in books_query():  # evaluated-here
            book.author  # noqa: B018
    finding = one(rec)
    assert str(finding.origin) == line(HERE, "evaluated-here")
    assert str(finding.built) == line(HERE, "built-here")


def test_threshold_is_configurable(library, settings):
    settings.DJPERF = {**settings.DJPERF, "THRESHOLDS": {"n-plus-one": {"count": 10}}}
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.author  # noqa: B018
    assert of(rec, "n-plus-one") == []
    with djperf.capture(thresholds={"n-plus-one": {"count": 6}}) as rec:
        for book in Book.objects.all():
            book.author  # noqa: B018
    assert len(of(rec, "n-plus-one")) == 1


def test_unknown_threshold_is_an_error(settings):
    with pytest.raises(ValueError, match=r"unknown threshold.*n-plus-one: limit; known: count"):
        djperf.capture(thresholds={"n-plus-one": {"limit": 3}})


@pytest.mark.parametrize(
    ("configured", "message"),
    [
        ({"n-plus-one": {"limit": 3}}, r"THRESHOLDS.*unknown threshold.*n-plus-one: limit"),
        ({"n-plus-won": {"count": 3}}, r"THRESHOLDS.*unknown rule\(s\): n-plus-won"),
        ({"n-plus-one": 3}, r"THRESHOLDS.*\['n-plus-one'\] must be a dict"),
    ],
)
def test_a_wrong_threshold_setting_fails_at_capture(settings, configured, message):
    from djperf.conf import ConfigurationError

    fixed = settings.DJPERF
    settings.DJPERF = {**fixed, "THRESHOLDS": configured}
    with pytest.raises(ConfigurationError, match=message):
        djperf.capture()
    settings.DJPERF = fixed
    djperf.capture()  # fixed settings are read again


@pytest.mark.skipif(not SIX_ONE, reason="fetch modes need Django 6.1")
def test_fetch_peers_is_info_with_the_join(library):
    from django.db.models import FETCH_PEERS

    with djperf.capture() as rec:
        for book in Book.objects.fetch_mode(FETCH_PEERS):
            book.author  # noqa: B018
    finding = one(rec)
    assert finding.severity == "info"
    assert finding.fix.text == ".select_related('author')"
    assert "FETCH_PEERS" in finding.message


@pytest.mark.skipif(not SIX_ONE, reason="fetch modes need Django 6.1")
def test_fetch_peers_is_suggested_on_django_6_1(library):
    with djperf.capture() as rec:
        for review in Review.objects.all():
            review.book.publisher  # noqa: B018
    findings = of(rec, "n-plus-one")
    assert sorted((f.field, f.count) for f in findings) == [("book", 12), ("publisher", 12)]
    for finding in findings:
        assert [alt.text for alt in finding.alternatives] == [".fetch_mode(models.FETCH_PEERS)"]


def test_fetch_peers_is_not_suggested_for_many_relations(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books.all())
    assert one(rec).alternatives == ()


@pytest.mark.parametrize(
    ("refine", "refinement"),
    [
        (lambda books: list(books.filter(title__startswith="B")), ".filter(title__startswith=...)"),
        (lambda books: list(books.order_by("-title")), ".order_by('-title')"),
        (lambda books: list(books.all()[:1]), ".all()[:1]"),
        (lambda books: books.first(), ".order_by('pk')[:1]"),
        (lambda books: books.get(title__endswith="0"), ".filter(title__endswith=...)"),
        (lambda books: list(books.select_related("publisher")), ".filter(...)"),
    ],
    ids=["filter", "order_by", "slice", "first", "get", "select_related"],
)
def test_a_refined_manager_gets_a_prefetch_object(library, refine, refinement):
    # prefetch_related('books') would not help: a refined manager queries again.
    with djperf.capture() as rec:
        for author in Author.objects.exclude(name="nobody"):
            refine(author.books)
    finding = one(rec)
    assert (finding.field, finding.count) == ("books", 3)
    assert finding.fix.method == "Prefetch"
    assert finding.fix.lookup == "books"
    assert finding.fix.text.startswith(
        f".prefetch_related(Prefetch('books', queryset=Book.objects{refinement}, "
        "to_attr='selected_books')), then read author.selected_books"
    )
    assert f"instead of refining .books at {finding.location}" in finding.fix.text


def _recent_books(author):
    return list(author.books.order_by("-title")[:2])  # method-like


def test_a_prefetch_into_an_attribute_read_in_a_function_of_its_own_keeps_a_fallback(library):
    # The function that refines the manager may serve objects from anywhere
    # (a model method): only those from the prefetching queryset have the
    # attribute.
    with djperf.capture() as rec:
        for author in Author.objects.exclude(name="nobody"):
            _recent_books(author)
    finding = one(rec)
    assert finding.fix.method == "Prefetch"
    assert finding.fix.text.endswith(
        "; objects from anywhere else have no selected_books: where _recent_books() also "
        "serves them, read getattr(author, 'selected_books', None) and keep the refined "
        "query for when it is None"
    )


def test_a_prefetch_into_an_attribute_read_where_the_queryset_is_needs_no_fallback(library):
    with djperf.capture() as rec:
        for author in Author.objects.exclude(name="nobody"):
            list(author.books.order_by("-title")[:2])
    finding = one(rec)
    assert finding.fix.method == "Prefetch"
    assert finding.fix.text.endswith(f"instead of refining .books at {finding.location}")


def test_one_row_at_a_time_from_one_line(library):
    # get() in a loop: each book is its own queryset, evaluated at one line.
    with djperf.capture() as rec:
        for title in ("B00", "B10", "B20"):
            book = Book.objects.get(title=title)  # get-origin
            book.author.name  # noqa: B018
    finding = one(rec)
    assert (finding.field, finding.count) == ("author", 3)
    assert finding.fix.text == ".select_related('author')"
    assert str(finding.origin) == line(HERE, "get-origin")


def test_a_refined_many_to_many_and_its_plain_use_are_two_findings(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            list(book.tags.all())
            list(book.tags.filter(name="t0"))
    fixes = sorted(f.fix.method for f in of(rec, "n-plus-one"))
    assert fixes == ["Prefetch", "prefetch_related"]


def test_a_refined_manager_cannot_be_verified_automatically(library):
    def work():
        return [list(author.books.order_by("title")) for author in Author.objects.all()]

    with djperf.capture() as rec:
        work()
    [trial] = djperf.verify(work, of(rec, "n-plus-one")).trials
    assert not trial.applied
    assert "apply it by hand" in trial.reason


def test_the_fix_removes_the_queries(library):
    def work():
        return [book.author.name for book in Book.objects.all()]  # verify-origin

    with djperf.capture() as rec:
        work()
    [trial] = djperf.verify(work, rec.findings).trials
    assert trial.applied
    assert (trial.before.queries, trial.after.queries) == (7, 1)
    assert trial.same_result is True


# The Django admin's changelist: the fix goes on the ModelAdmin.


def test_a_relation_a_list_display_method_reads_is_joined_on_the_model_admin(staff):
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    [finding] = [f for f in of(rec, "n-plus-one") if f.field == "publisher"]
    assert finding.fix.text == "list_select_related = ['author', 'publisher'] on BookAdmin"
    assert str(finding.location) == line(admin_site.__file__, "publisher-access")
    assert str(finding.built) == class_line("BookAdmin")


def test_a_many_to_many_is_prefetched_in_get_queryset(staff):
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    [finding] = [f for f in of(rec, "n-plus-one") if f.field == "tags"]
    assert finding.fix.text == (
        "on BookAdmin: def get_queryset(self, request): "
        "return super().get_queryset(request).prefetch_related('tags')"
    )
    assert str(finding.location) == line(admin_site.__file__, "tags-access")


def test_verify_proves_the_model_admin_fixes(staff):
    def changelist():
        return page(staff, "/admin/testapp/book/")

    with djperf.capture() as rec:
        changelist()
    result = djperf.verify(changelist, of(rec, "n-plus-one"))
    assert all(trial.applied and trial.same_result for trial in result.trials)
    # Six publisher loads and six tag loads become one prefetch query.
    assert result.combined.after.queries == result.combined.before.queries - 11


def test_a_join_behind_only_through_the_relation_needs_nothing_more(library):
    with djperf.capture() as rec:
        [b.author.bio.text for b in Book.objects.only("title", "author__name")]
    fixes = {f.fix.text for f in of(rec, "n-plus-one")}
    assert fixes == {".select_related('author')", ".select_related('author__bio')"}


def test_two_instances_are_info_three_a_warning(library):
    books = list(Book.objects.all()[:3])
    with djperf.capture() as two:
        [book.author.name for book in Book.objects.filter(pk__in=[b.pk for b in books[:2]])]
    with djperf.capture() as three:
        [book.author.name for book in Book.objects.filter(pk__in=[b.pk for b in books])]
    assert [(f.count, f.severity) for f in of(two, "n-plus-one")] == [(2, "info")]
    assert [(f.count, f.severity) for f in of(three, "n-plus-one")] == [(3, "warning")]


def test_a_refined_manager_keeps_its_filter_in_the_prefetch(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            author.books.filter(title__startswith="B").order_by("-title").first()
    finding = one(rec)
    # The values as the code wrote them: a literal means the same anywhere.
    assert finding.fix.text.startswith(
        ".prefetch_related(Prefetch('books', queryset=Book.objects"
        """.filter(title__startswith="B").order_by('-title')[:1], to_attr='selected_books'))"""
    )


def _counted(publisher):
    return list(publisher.stocks.filter(count__gt=0))  # counted-stocks


def _stock_publishers():
    from tests.testapp.models import Stock

    for number, publisher in enumerate(Publisher.objects.order_by("pk")[:3]):
        Stock.objects.create(partner=publisher, sku=f"s{number}", code=f"c{number}", count=1)


def test_a_refined_manager_the_project_prefetches_itself_names_the_projects_method(library):
    # oscar's product.get_attribute_values(): the project's
    # prefetch_attribute_values() fills the attribute it reads first.
    from tests.testapp.models import PublisherQuerySet

    _stock_publishers()
    with djperf.capture() as rec:
        for publisher in Publisher.objects.all():  # publishers
            _counted(publisher)
    finding = one(rec)
    method = PublisherQuerySet.prefetch_counted_stocks
    assert finding.fix.text.startswith(
        "the project's PublisherQuerySet.prefetch_counted_stocks() (at "
        f"tests/testapp/models.py:{method.__code__.co_firstlineno}) prefetches stocks into "
        "_prefetched_counted_stocks, which the project's code reads: call "
        f".prefetch_counted_stocks() on the queryset at {line(HERE, 'publishers')}, if what "
        "it loads is what this code reads; else .prefetch_related(Prefetch('stocks', "
    )


def _all_publishers():
    return Publisher.objects.all()  # publishers-built


def test_the_projects_prefetch_on_a_queryset_another_function_builds_names_the_loop_too(
    library,
):
    # oscar's attribute_summary() per child of get_public_children(): the
    # method serves other callers, who would run the prefetch's queries too.
    _stock_publishers()
    with djperf.capture() as rec:
        for publisher in _all_publishers():  # publishers-looped
            _counted(publisher)
    assert (
        f".prefetch_counted_stocks() on the queryset at {line(HERE, 'publishers-built')} (or "
        f"where the loop at {line(HERE, 'publishers-looped')} takes it: other callers of "
        "_all_publishers() would run its queries too), if what it loads is what this code "
        "reads; else "
    ) in one(rec).fix.text


def _publisher_books(publisher):
    return publisher.book_set.order_by("title")  # publisher-books


def test_the_projects_prefetch_on_a_refined_managers_rows_names_the_loop_that_took_them(
    library,
):
    # oscar's children from get_public_children() (self.children.public()),
    # looped by the dashboard form: the method serves other callers too.
    publisher = Publisher.objects.filter(book__isnull=False).first()
    with djperf.capture() as rec:
        for book in _publisher_books(publisher):  # publisher-books-loop
            list(book.chapter_set.order_by("title"))
    assert (
        ".prefetch_ordered_chapters() on the queryset at "
        f"{line(HERE, 'publisher-books')} (or where the loop at "
        f"{line(HERE, 'publisher-books-loop')} takes it: other callers of _publisher_books() "
        "would run its queries too)"
    ) in one(rec).fix.text


def test_a_refined_manager_the_project_does_not_prefetch_gets_the_prefetch_alone(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books.filter(title__startswith="B"))
    assert one(rec).fix.text.startswith(".prefetch_related(Prefetch('books', ")


def test_a_refined_manager_keeps_a_module_constant_in_the_prefetch(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books.exclude(title__in=SKIPPED_TITLES).filter(summary=""))
    assert one(rec).fix.text.startswith(
        ".prefetch_related(Prefetch('books', queryset=Book.objects"
        """.exclude(title__in=SKIPPED_TITLES).filter(summary=""), to_attr='selected_books'))"""
    )


def test_a_filter_value_from_the_loop_is_not_written_into_the_prefetch(library):
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books.filter(title__startswith=author.name[:1]))
    assert one(rec).fix.text.startswith(
        ".prefetch_related(Prefetch('books', queryset=Book.objects"
        ".filter(title__startswith=...), to_attr='selected_books'))"
    )


# -- must flag: prefetch_related_objects() called per object -----------------------


@pytest.mark.parametrize(
    ("model", "lookup", "field", "fix"),
    [
        (Author, "books", "books", "<the author list>, 'books'"),  # reverse foreign key
        (Book, "author", "author", "<the book list>, 'author'"),  # foreign key
        (Author, "bio", "bio", "<the author list>, 'bio'"),  # reverse one-to-one
        (Book, "tags", "tags", "<the book list>, 'tags'"),  # many-to-many
        (Tag, "books", "books", "<the tag list>, 'books'"),  # many-to-many, reverse
        (Book, "notes", "notes", "<the book list>, 'notes'"),  # generic relation
    ],
)
def test_prefetch_related_objects_per_object(library, model, lookup, field, fix):
    # The objects were loaded before the capture: no queryset to name, so the
    # fix is the same call once, for the whole list.
    from django.db.models import prefetch_related_objects

    objects = list(model.objects.all())
    with djperf.capture() as rec:
        for obj in objects:
            prefetch_related_objects([obj], lookup)  # per-object
    finding = one(rec)
    assert (finding.model, finding.field) == (model._meta.label, field)
    assert finding.count == len(objects)
    assert (
        finding.fix.text
        == f"prefetch_related_objects({fix}) before the loop (from django.db.models)"
    )
    assert str(finding.location) == line(HERE, "per-object")


def test_rows_of_a_related_manager_of_an_object_from_no_queryset(library):
    # The author came from before the capture; its books from a related
    # manager the code builds: the join goes on that queryset.
    author = Author.objects.filter(books__isnull=False).first()
    with djperf.capture() as rec:
        books = author.books.order_by("-title")  # manager-built
        for book in books:
            book.publisher  # noqa: B018
    finding = one(rec)
    assert finding.fix.method == "select_related"
    assert finding.fix.text == (
        f".select_related('publisher') on the queryset at {line(HERE, 'manager-built')}"
    )


def test_behind_a_join_of_a_related_manager_of_an_object_from_no_queryset(library):
    author = Author.objects.filter(books__isnull=False).first()
    reviews = Review.objects.filter(book__author=author)
    assert reviews.count() >= 2
    book = reviews.first().book
    with djperf.capture() as rec:
        for review in book.reviews.select_related("book"):  # joined-manager
            review.book.publisher  # noqa: B018
    finding = one(rec)
    assert finding.fix.text == (
        f".select_related('book__publisher') on the queryset at {line(HERE, 'joined-manager')}"
    )


def test_rows_of_a_refined_related_manager_of_a_queryset_get_the_join_there(library):
    # As oscar's basket.all_lines(): self.lines.select_related(...).order_by(...)
    # read per basket; a prefetch of 'books__publisher' on the authors would
    # never be read by the refined manager: the join goes on its queryset.
    def ordered_books(author):
        return author.books.order_by("title")  # refined-manager

    with djperf.capture() as rec:
        for author in Author.objects.all():
            for book in ordered_books(author):
                book.publisher  # noqa: B018
    by_field = {f.field: f for f in of(rec, "n-plus-one")}
    assert by_field["publisher"].fix.text == (
        f".select_related('publisher') on the queryset at {line(HERE, 'refined-manager')}"
    )


def test_a_refined_read_of_rows_of_a_refined_manager_gets_its_prefetch_there(library):
    # djangoproject.com's cve_data(): issues from self.securityissue_set
    # .order_by(...), then issue.releases.filter(...) per issue.
    def ordered_books(author):
        return author.books.order_by("title")  # refined-books

    with djperf.capture() as rec:
        for author in Author.objects.all():
            for book in ordered_books(author):
                list(book.tags.filter(name__startswith="t"))
    by_field = {f.field: f for f in of(rec, "n-plus-one")}
    assert by_field["tags"].fix.text.startswith(
        ".prefetch_related(Prefetch('tags', queryset=Tag.objects.filter(name__startswith=\"t\"), "
        f"to_attr='selected_tags')) on the queryset at {line(HERE, 'refined-books')}, then read "
    )


def test_two_steps_past_a_refined_related_manager_the_fix_goes_on_its_queryset(library):
    # As oscar's line.description: basket.all_lines() (refined), then each
    # line's attributes (a plain manager), then each attribute's option.
    # A prefetch of 'books__reviews__book' on the authors is never read.
    def ordered_books(author):
        return author.books.order_by("title")  # refined-deeper

    with djperf.capture() as rec:
        for author in Author.objects.all():
            for book in ordered_books(author):
                for tag in book.tags.all():
                    list(tag.books.all())
    by_field = {(f.model, f.field): f for f in of(rec, "n-plus-one")}
    assert by_field[("testapp.Tag", "books")].fix.text == (
        f".prefetch_related('tags__books') on the queryset at {line(HERE, 'refined-deeper')}"
    )


def test_past_a_prefetch_of_a_refined_related_manager_the_fix_goes_on_its_queryset(library):
    # As oscar's basket.all_lines(), which prefetches each line's attributes:
    # an attribute's option read per attribute is the lines queryset's to
    # prefetch, past the prefetch step, not the basket's.
    def shelved(publisher):
        return publisher.book_set.order_by("title").prefetch_related("tags")  # refined-prefetching

    with djperf.capture() as rec:
        for publisher in Publisher.objects.all():
            for book in shelved(publisher):
                for tag in book.tags.all():
                    list(tag.books.all())
    by_field = {(f.model, f.field): f for f in of(rec, "n-plus-one")}
    assert by_field[("testapp.Tag", "books")].fix.text == (
        f".prefetch_related('tags__books') on the queryset at {line(HERE, 'refined-prefetching')}"
    )


def test_a_refined_read_behind_a_join_of_a_refined_manager_gets_its_prefetch_there(library):
    # As oscar's strategy: line.product (joined by all_lines()), then
    # product.stockrecords.all()[:1] per line.
    def reviews_of(book):
        return book.reviews.select_related("book").order_by("pk")  # refined-joined

    with djperf.capture() as rec:
        for book in Book.objects.all():
            for review in reviews_of(book):
                list(review.book.tags.order_by("name")[:1])
    by_field = {f.field: f for f in of(rec, "n-plus-one")}
    assert by_field["tags"].fix.text.startswith(
        ".prefetch_related(Prefetch('book__tags', queryset=Tag.objects.order_by('name')[:1], "
        f"to_attr='selected_tags')) on the queryset at {line(HERE, 'refined-joined')}, then read "
    )


def test_the_list_of_a_chain_from_no_queryset_is_of_its_first_model(library):
    reviews = list(Review.objects.all())
    assert len(reviews) >= 2
    with djperf.capture() as rec:
        for review in reviews:
            review.book.author  # noqa: B018
    texts = sorted(f.fix.text for f in of(rec, "n-plus-one"))
    assert texts == [
        "prefetch_related_objects(<the review list>, 'book') before the loop "
        "(from django.db.models)",
        "prefetch_related_objects(<the review list>, 'book__author') before the loop "
        "(from django.db.models)",
    ]


def test_prefetch_related_objects_per_object_of_an_iterator(library):
    from django.db.models import prefetch_related_objects

    with djperf.capture() as rec:
        for author in Author.objects.iterator(chunk_size=1):
            prefetch_related_objects([author], "books")
    finding = one(rec)
    assert (finding.field, finding.count) == ("books", 4)
    assert finding.fix.text == ".prefetch_related('books')"


# -- must flag: requests, and calls from test code ---------------------------------


@pytest.fixture
def pages(settings, library):
    settings.ROOT_URLCONF = "tests.testapp.urls"
    return list(Book.objects.order_by("pk").values_list("pk", flat=True))


def test_an_n_plus_one_inside_one_request(pages, client):
    with djperf.capture() as rec:
        client.get("/books/")
    finding = one(rec)
    assert (finding.model, finding.field, finding.count) == ("testapp.Book", "author", 6)
    assert str(finding.location) == line("tests/testapp/views.py", "list-author")
    assert finding.severity == "warning" and not finding.in_tests


def test_the_same_page_twice_is_one_finding(pages, client):
    with djperf.capture() as rec:
        client.get("/books/")
        client.get("/books/")
    finding = one(rec)
    assert finding.count == 6
    assert str(finding.location) == line("tests/testapp/views.py", "list-author")


def test_one_call_from_test_code_that_loops_is_the_applications(library):
    from tests import as_tests

    with djperf.capture() as rec:
        as_tests.call_once(lambda: [book.author.name for book in Book.objects.all()])
    finding = one(rec)
    assert finding.count == 6 and not finding.in_tests and finding.severity == "warning"


def test_a_loop_in_test_code_over_the_application_is_the_tests(library):
    from tests import as_tests

    def author_of(book):
        return book.author.name  # app-author

    books = list(Book.objects.all())  # test-books
    with djperf.capture() as rec:
        as_tests.call_each(author_of, books)
    finding = one(rec)
    assert finding.in_tests and finding.severity == "info"
    assert str(finding.location) == line("tests/as_tests.py", "the-test-loop")
    assert finding.count == 6
    assert "separate call made by test code at tests/as_tests.py:" in finding.message


def test_a_queryset_the_test_built_for_the_application_is_the_tests(library):
    # The application loops over whatever queryset it is given; the test
    # gave it one without the join its own code would make.
    from tests import as_tests

    with djperf.capture() as rec:
        books = as_tests.all_of(Book)
        [book.author.name for book in books]  # the-app-loop
    finding = one(rec)
    assert finding.in_tests and finding.severity == "info"
    assert str(finding.location) == line(HERE, "the-app-loop")
    assert (
        "The queryset was built by test code at "
        f"{line('tests/as_tests.py', 'built-by-the-test')}" in finding.message
    )


def test_loads_a_package_makes_on_its_own_objects_are_the_packages(library, fakelib):
    from tests.fakelib.thumbnails import delete_thumbnails

    names = list(Author.objects.values_list("name", flat=True))
    with djperf.capture() as rec:
        for name in names:
            delete_thumbnails(name)  # package-call
    finding = one(rec)
    assert finding.fix.method == "call_once"
    assert finding.fix.text.startswith(
        f"the objects and their loads are tests's, made inside each call at "
        f"{line(HERE, 'package-call')}: no queryset of yours to prefetch on"
    )


# -- must not flag -------------------------------------------------------------------


def test_not_two_detail_requests_in_one_capture(pages, client):
    # Each request gets one book and its author: one load per request.
    with djperf.capture() as rec:
        for pk in pages[:2]:
            assert client.get(f"/books/{pk}/").status_code == 200
    assert len(rec.lazy_loads) == 2
    assert of(rec, "n-plus-one") == []


def test_not_a_redirect_and_its_target_checked_by_assert_redirects(pages, client):
    from django.test import SimpleTestCase

    with djperf.capture() as rec:
        response = client.get("/first/")
        SimpleTestCase().assertRedirects(response, f"/books/{pages[0]}/")
    assert len({q.request for q in rec.queries}) == 2
    assert of(rec, "n-plus-one") == []


def test_not_the_same_call_from_test_code_repeated_below_the_threshold(library):
    from tests import as_tests

    book = Book.objects.first()
    with djperf.capture() as rec:
        as_tests.call_each(lambda b: b.author.name, [book])
    assert len(rec.lazy_loads) == 1
    assert of(rec, "n-plus-one") == []


def test_a_relation_read_only_for_its_key_reads_the_key(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            Book.objects.filter(author=book.author).exclude(pk=book.pk).exists()  # key-only
    [finding] = of(rec, "n-plus-one")
    assert str(finding.location) == line(HERE, "key-only")
    assert finding.fix.method == "use_key"
    assert finding.fix.text == (
        "Book.objects.filter(author=book.author_id).exclude(pk=book.pk).exists()"
    )
    assert "Only its key was used" in finding.message


def test_not_the_key_when_the_object_is_read_again_later(library):
    # As an importer's clean() comparing feeding.child, and its diff reading
    # the child afterwards: the key at the first line moves the load, no more.
    with djperf.capture() as rec:
        books = list(Book.objects.all())
        for book in books:
            Book.objects.filter(author=book.author).exclude(pk=book.pk).exists()  # compare
        names = [book.author.name for book in books]  # read-again
    assert names
    [finding] = of(rec, "n-plus-one")
    assert finding.fix.method == "select_related"
    assert finding.fix.text.endswith(".select_related('author')")
    assert (
        f" ({line(HERE, 'compare')} uses only its key, but the code reads book.author of the "
        f"same objects again at {line(HERE, 'read-again')}: reading author_id at "
        f"{line(HERE, 'compare')} would move each load there, not save it.)"
    ) in finding.message


def test_objects_from_no_queryset_read_again_are_not_told_to_read_the_key(library):
    ids = list(Book.objects.values_list("pk", "author_id"))
    with djperf.capture() as rec:
        books = [Book(pk=pk, author_id=author) for pk, author in ids]
        for book in books:
            Book.objects.filter(author=book.author).exclude(pk=book.pk).exists()  # built
        for book in books:
            str(book.author)
    [finding] = of(rec, "n-plus-one")
    assert finding.fix.method != "use_key"
    assert "would move each load there, not save it" in finding.message


def test_the_key_when_the_object_is_only_read_again_by_save(library):
    # Model.save() reads each cached parent to check it was saved: no use.
    with djperf.capture() as rec:
        for book in Book.objects.all():
            Book.objects.filter(author=book.author).exclude(pk=book.pk).exists()  # then-save
            book.save()
    [finding] = of(rec, "n-plus-one")
    assert finding.fix.method == "use_key"
    assert "move each load" not in finding.message


def test_a_relation_read_through_its_pk_reads_the_key(library):
    with djperf.capture() as rec:
        ids = [book.author.pk for book in Book.objects.all()]  # through-pk
    assert ids
    [finding] = of(rec, "n-plus-one")
    assert finding.fix.text == "ids = [book.author_id for book in Book.objects.all()]"


def test_not_the_key_when_the_object_itself_is_read(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            Book.objects.filter(author=book.author, title=book.author.name).exists()
    [finding] = of(rec, "n-plus-one")
    assert finding.fix.method == "select_related"


def test_not_select_related_and_used(library):
    with djperf.capture() as rec:
        for review in Review.objects.select_related("book__publisher"):
            review.book.publisher.name  # noqa: B018
    assert of(rec, "n-plus-one") == []


def test_not_prefetched_and_used(library):
    with djperf.capture() as rec:
        for author in Author.objects.filter(bio__isnull=False).prefetch_related(
            "books__tags", "bio"
        ):
            author.bio  # noqa: B018
            for book in author.books.all():
                list(book.tags.all())
    assert of(rec, "n-plus-one") == []


def test_not_one_object_from_get_then_one_access(library):
    with djperf.capture() as rec:
        book = Book.objects.get(title="B00")
        book.author  # noqa: B018
        book.publisher  # noqa: B018
        list(book.tags.all())
    assert of(rec, "n-plus-one") == []


def test_not_a_loop_over_one_row(library):
    with djperf.capture() as rec:
        for book in Book.objects.filter(title="B00"):
            book.author  # noqa: B018
    assert of(rec, "n-plus-one") == []


def test_not_a_loop_over_no_rows(library):
    with djperf.capture() as rec:
        for book in Book.objects.filter(title="nothing"):
            book.author  # noqa: B018
    assert rec.findings == []


def test_not_a_cascade_delete(library):
    with djperf.capture() as rec:
        Author.objects.all().delete()
    assert rec.findings == []


def test_not_bulk_operations(library):
    with djperf.capture() as rec:
        books = list(Book.objects.all())
        for book in books:
            book.title = book.title + "!"
        Book.objects.bulk_update(books, ["title"])
        Tag.objects.bulk_create([Tag(name=f"new {i}") for i in range(20)])
        Book.objects.in_bulk([b.pk for b in books])
    assert rec.findings == []


def test_not_a_relation_assigned_in_memory(library):
    publisher = Publisher.objects.first()
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.publisher = publisher
            book.publisher.name  # noqa: B018
    assert of(rec, "n-plus-one") == []


def test_not_counts_on_a_related_manager(library):
    # count() per row is a repeated query, not a relation loaded one at a time.
    with djperf.capture() as rec:
        for author in Author.objects.all():
            author.books.count()
    assert of(rec, "n-plus-one") == []


def test_not_the_same_instance_twice(library):
    book = Book.objects.first()
    with djperf.capture() as rec:
        book.author  # noqa: B018
        book.author  # noqa: B018
    assert of(rec, "n-plus-one") == []


def test_not_djangos_own_content_type_lookups(library):
    ContentType.objects.clear_cache()
    with djperf.capture() as rec:
        for model in (Book, Author, Tag, Note, Review):
            ContentType.objects.get_for_model(model)
    assert rec.findings == []


@pytest.mark.skipif(not SIX_ONE, reason="fetch modes need Django 6.1")
def test_not_fetch_raise(library):
    from django.core.exceptions import FieldFetchBlocked
    from django.db.models import FETCH_RAISE

    with djperf.capture() as rec:
        for book in Book.objects.fetch_mode(FETCH_RAISE):
            with pytest.raises(FieldFetchBlocked):
                book.author  # noqa: B018
    assert rec.findings == []


def test_not_a_deferred_field(library):
    with djperf.capture() as rec:
        for book in Book.objects.only("title"):
            book.summary  # noqa: B018
    assert of(rec, "n-plus-one") == []


def test_not_a_bypassed_prefetch(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):
            list(author.books.filter(title__startswith="B"))
    assert of(rec, "n-plus-one") == []


def test_not_when_django_alone_would_not_query(library):
    with CaptureQueriesContext(connection) as bare:
        [r.book.title for r in Review.objects.select_related("book")]
    with djperf.capture() as rec:
        [r.book.title for r in Review.objects.select_related("book")]
    assert len(bare.captured_queries) == 1
    assert rec.findings == []


def test_not_only_the_first_row(library):
    with djperf.capture() as rec:
        for index, book in enumerate(Book.objects.all()):
            if index == 0:
                book.author  # noqa: B018
    assert of(rec, "n-plus-one") == []


def test_not_iterator_with_select_related_used(library):
    with djperf.capture() as rec:
        for book in Book.objects.select_related("author").iterator(chunk_size=2):
            book.author.name  # noqa: B018
    assert rec.findings == []


def test_not_one_row_from_each_of_several_lines(library):
    with djperf.capture() as rec:
        Book.objects.get(title="B00").author  # noqa: B018
        Book.objects.get(title="B10").author  # noqa: B018
        Book.objects.get(title="B20").author  # noqa: B018
    assert of(rec, "n-plus-one") == []


def test_not_one_instance_loaded_twice(library):
    with djperf.capture() as rec:
        book = Book.objects.get(title="B00")
        for _ in range(2):
            list(book.tags.all())
    assert of(rec, "n-plus-one") == []


def test_not_prefetch_related_objects_then_used(library):
    from django.db.models import prefetch_related_objects

    with djperf.capture() as rec:
        books = list(Book.objects.all())
        prefetch_related_objects(books, "author", "tags")
        for book in books:
            book.author.name  # noqa: B018
            list(book.tags.all())
    assert rec.findings == []


def test_not_a_prefetch_object_with_its_queryset_used(library):
    with djperf.capture() as rec:
        authors = Author.objects.prefetch_related(
            Prefetch("books", queryset=Book.objects.select_related("publisher"))
        )
        for author in authors:
            for book in author.books.all():
                book.publisher.name  # noqa: B018
    assert rec.findings == []


def test_not_a_parent_link_built_in_memory(library):
    from tests.testapp.models import Edition

    for i in range(3):
        Edition.objects.create(title=f"E{i}", author=Author.objects.first(), year=2000 + i)
    with djperf.capture() as rec:
        for edition in Edition.objects.all():
            edition.book_ptr  # noqa: B018
    assert of(rec, "n-plus-one") == []


def test_not_a_refined_manager_on_one_instance(library):
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        list(author.books.filter(title__startswith="B"))
        author.books.first()
    assert rec.findings == []


def test_not_a_prefetch_object_for_the_refinement_then_used(library):
    with djperf.capture() as rec:
        authors = Author.objects.prefetch_related(
            Prefetch("books", queryset=Book.objects.order_by("-title"), to_attr="selected_books")
        )
        for author in authors:
            author.selected_books[:1]
    assert rec.findings == []


def test_not_a_manager_queryset_evaluated_as_handed_out(library):
    # iterator() and all() evaluate the manager's own queryset: plain prefetch fits.
    with djperf.capture() as rec:
        for author in Author.objects.all():
            list(author.books.iterator())
    assert one(rec).fix.method == "prefetch_related"


def test_not_values_loops(library):
    with djperf.capture() as rec:
        for row in Book.objects.values("title", "author__name"):
            row["author__name"]
    assert rec.findings == []


def test_not_select_related_and_prefetch_related_together_then_used(library):
    with djperf.capture() as rec:
        books = Book.objects.select_related("author", "publisher").prefetch_related(
            "tags", "chapter_set"
        )
        seen = [
            (
                book.author.name,
                book.publisher.name,
                len(book.tags.all()),
                len(book.chapter_set.all()),
            )
            for book in books
        ]
    assert len(seen) == 6
    assert {row[2:] for row in seen} == {(2, 2)}
    assert len(rec.queries) == 3
    assert of(rec, "n-plus-one") == []


def test_not_the_foreign_key_id_column(library):
    # book.author_id is a column of the row: reading it never queries.
    with djperf.capture() as rec:
        author_ids = {book.author_id for book in Book.objects.all()}
    assert len(author_ids) == 3
    assert len(rec.queries) == 1
    assert of(rec, "n-plus-one") == []


def test_not_a_null_foreign_key(library):
    # A null foreign key is known to be None without a query.
    author = Author.objects.get(name="nobody")
    for i in range(3):
        Book.objects.create(title=f"self-published {i}", author=author, publisher=None)
    with djperf.capture() as rec:
        publishers = [book.publisher for book in Book.objects.filter(publisher__isnull=True)]
    assert publishers == [None, None, None]
    assert len(rec.queries) == 1
    assert of(rec, "n-plus-one") == []


def test_not_the_parent_read_back_through_a_prefetched_reverse_relation(library):
    # Django sets book.author on the books it prefetched through author.books.
    with djperf.capture() as rec:
        pairs = [
            (author.name, book.author.name)
            for author in Author.objects.prefetch_related("books")
            for book in author.books.all()
        ]
    assert len(pairs) == 6
    assert all(name == back for name, back in pairs)
    assert len(rec.queries) == 2
    assert of(rec, "n-plus-one") == []


def test_not_the_parent_read_back_through_a_related_manager(library):
    with djperf.capture() as rec:
        author = Author.objects.get(name="A0")
        names = [book.author.name for book in author.books.all()]
    assert names == ["A0", "A0"]
    assert len(rec.queries) == 2
    assert of(rec, "n-plus-one") == []


def test_not_an_outer_instances_relation_read_inside_a_loop(library):
    # The loop is over chapters; the relation read is the one book's, loaded once.
    from tests.testapp.models import Chapter

    with djperf.capture() as rec:
        book = Book.objects.get(title="B00")
        rows = [(chapter.title, book.author.name) for chapter in Chapter.objects.filter(book=book)]
    assert rows == [("c0", "A0"), ("c1", "A0")]
    assert len(rec.queries) == 3
    assert of(rec, "n-plus-one") == []


def test_not_a_list_of_single_rows_from_different_querysets(library):
    # Each queryset loads one book; each book's author is loaded once.
    with djperf.capture() as rec:
        books = [
            Book.objects.filter(author__name="A0").order_by("title").first(),
            Book.objects.filter(publisher__name="P1").order_by("-title").first(),
            Book.objects.get(title="B10"),
        ]
        names = [book.author.name for book in books]
    assert names == ["A0", "A2", "A1"]
    assert len(rec.queries) == 6
    assert of(rec, "n-plus-one") == []


def test_not_a_list_from_two_querysets_prefetched_together(library):
    from django.db.models import prefetch_related_objects

    with djperf.capture() as rec:
        books = [
            *Book.objects.filter(title__endswith="0"),
            *Book.objects.filter(title__endswith="1"),
        ]
        prefetch_related_objects(books, "author", "tags")
        rows = [(book.author.name, len(book.tags.all())) for book in books]
    assert len(rows) == 6
    assert {name for name, _ in rows} == {"A0", "A1", "A2"}
    assert len(rec.queries) == 4
    assert of(rec, "n-plus-one") == []


def test_not_a_queryset_iterated_twice_from_its_result_cache(library):
    with djperf.capture() as rec:
        books = Book.objects.select_related("author")
        first = [book.author.name for book in books]
        again = [book.author.name for book in books]
    assert first == again
    assert len(first) == 6
    assert len(rec.queries) == 1
    assert of(rec, "n-plus-one") == []


def test_not_a_paginated_page_with_select_related(library):
    from django.core.paginator import Paginator

    with djperf.capture() as rec:
        paginator = Paginator(Book.objects.select_related("author").order_by("title"), 4)
        names = [book.author.name for book in paginator.page(1)]
    assert names == ["A0", "A0", "A1", "A1"]
    assert len(rec.queries) == 2  # the count and the page
    assert of(rec, "n-plus-one") == []


def test_not_a_template_loop_over_select_related(library):
    template = Template("{% for book in books %}{{ book.author.name }};{% endfor %}")
    with djperf.capture() as rec:
        rendered = template.render(
            Context({"books": Book.objects.select_related("author").order_by("title")})
        )
    assert rendered == "A0;A0;A1;A1;A2;A2;"
    assert len(rec.queries) == 1
    assert of(rec, "n-plus-one") == []


def test_not_an_async_loop_with_select_related(library):
    async def view():
        async with djperf.capture() as rec:
            names = [
                book.author.name
                async for book in Book.objects.select_related("author").order_by("title")
            ]
        return rec, names

    rec, names = async_to_sync(view)()
    assert names == ["A0", "A0", "A1", "A1", "A2", "A2"]
    assert len(rec.queries) == 1
    assert of(rec, "n-plus-one") == []


def test_not_a_generic_relation_prefetched_and_used(library):
    ContentType.objects.get_for_model(Book)
    with djperf.capture() as rec:
        texts = [
            note.text
            for book in Book.objects.prefetch_related("notes")
            for note in book.notes.all()
        ]
    assert len(texts) == 6
    assert len(rec.queries) == 2
    assert of(rec, "n-plus-one") == []


def test_not_an_annotation_read_instead_of_the_relation(library):
    from django.db.models import F

    with djperf.capture() as rec:
        books = Book.objects.annotate(author_name=F("author__name")).order_by("title")
        names = [book.author_name for book in books]
    assert names == ["A0", "A0", "A1", "A1", "A2", "A2"]
    assert len(rec.queries) == 1
    assert of(rec, "n-plus-one") == []


# The Django admin's changelist.


def test_not_the_optimized_model_admin(staff):
    with djperf.capture() as rec:
        response = page(staff, "/optimized/testapp/book/")
    assert b"B00" in response.content
    assert rec.findings == []


def test_not_a_column_django_joins_itself(staff):
    # "author" in list_display: Django's changelist selects it.
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    assert sorted(f.field for f in of(rec, "n-plus-one")) == ["publisher", "tags"]


def test_not_the_instances_a_deletion_collects(library):
    # The collector evaluates the chapters for their signal: a handler that
    # reads chapter.book has no queryset of the user's to fix.
    from django.db.models.signals import pre_delete

    from tests.testapp.models import Chapter

    def read_book(sender, instance, **kwargs):
        instance.book.title  # noqa: B018

    pre_delete.connect(read_book, sender=Chapter)
    try:
        with djperf.capture() as rec:
            Book.objects.filter(title__startswith="B0").delete()
    finally:
        pre_delete.disconnect(read_book, sender=Chapter)
    assert of(rec, "n-plus-one") == []


def test_not_prefetch_related_objects_of_all_the_objects_at_once(library):
    from django.db.models import prefetch_related_objects

    authors = list(Author.objects.all())
    with djperf.capture() as rec:
        prefetch_related_objects(authors, "books")
        [book.title for author in authors for book in author.books.all()]
    assert len(rec.queries) == 1
    assert of(rec, "n-plus-one") == []


def test_not_prefetch_related_objects_of_two_objects_fetched_apart(library):
    # Two single objects from two lines: two querysets, one prefetch each.
    from django.db.models import prefetch_related_objects

    first, second = Author.objects.order_by("pk").values_list("pk", flat=True)[:2]
    with djperf.capture() as rec:
        prefetch_related_objects([Author.objects.get(pk=first)], "books")
        prefetch_related_objects([Author.objects.get(pk=second)], "books")
    assert of(rec, "n-plus-one") == []


def test_not_a_querysets_own_prefetch_of_one_row(library):
    with djperf.capture() as rec:
        author = Author.objects.prefetch_related("books").get(name="A0")
        titles = [book.title for book in author.books.all()]
    assert len(titles) == 2
    assert rec.lazy_loads == []
    assert of(rec, "n-plus-one") == []


# -- instances no queryset loaded, loaded for inside a loop further out -------------


def _author_name(book):
    return book.author.name  # made-book-author


def _label_for(book):
    return f"{book.title} by {_author_name(book)}"  # label-between


def test_made_objects_get_their_prefetch_before_the_loop_further_out(library):
    authors = list(Author.objects.all()[:3])
    books = [Book(title=f"new {a.pk}", author_id=a.pk) for a in authors]
    with djperf.capture() as rec:
        labels = []
        for book in books:
            labels.append(_label_for(book))  # labels-loop
    assert len(labels) == 3
    [finding] = of(rec, "n-plus-one")
    assert str(finding.location) == line(HERE, "made-book-author")
    assert finding.fix.text == (
        f"prefetch_related_objects(<the book list>, 'author') before the loop at "
        f"{line(HERE, 'labels-loop')} in "
        "test_made_objects_get_their_prefetch_before_the_loop_further_out(), 2 calls out from "
        f"{line(HERE, 'made-book-author')} (through _label_for() at "
        f"{line(HERE, 'label-between')}) (from django.db.models)"
    )


def _on_review_saved(receiver):
    from django.db.models.signals import post_save

    post_save.connect(receiver, sender=Review)
    return lambda: post_save.disconnect(receiver, sender=Review)


def test_a_receiver_reading_rows_of_the_saved_model_gets_no_prefetch_on_the_loops_queryset(
    library,
):
    # As oscar's stock alerts: each stockrecord's save re-reads its
    # product's stockrecords. A prefetch on the queryset the loop saves from
    # would hold the rows as they were before the saves.
    counts = []

    def count_siblings(sender, instance, **kwargs):
        counts.append(len(instance.book.reviews.all()))  # siblings-read

    done = _on_review_saved(count_siblings)
    try:
        with djperf.capture() as rec:
            for review in Review.objects.all():
                review.save()  # sibling-saves
    finally:
        done()
    found = {f.field: f for f in of(rec, "n-plus-one")}
    assert found["reviews"].fix.text.startswith(
        "no code: count_siblings() runs inside each write or signal at "
        f"{line(HERE, 'sibling-saves')} (a signal receiver, or a save() override) and reads "
        "the relation after that write; the loop at"
    )


def test_a_receiver_reading_another_models_row_keeps_the_join_on_the_loops_queryset(library):
    # The book is not what is written: a join on the reviews the loop saves
    # serves every receiver call, and nothing it reads goes stale.
    titles = []

    def note_title(sender, instance, **kwargs):
        titles.append(instance.book.title)

    done = _on_review_saved(note_title)
    try:
        with djperf.capture() as rec:
            for review in Review.objects.all():
                review.save()
    finally:
        done()
    [finding] = of(rec, "n-plus-one")
    assert finding.fix.text == ".select_related('book')"


def test_a_receiver_with_a_loop_of_its_own_keeps_its_prefetch(library):
    # The repetition is inside one receiver call: its own queryset is the fix's.
    seen = []

    def on_saved(sender, instance, **kwargs):
        for book in Book.objects.all():  # receivers-own
            seen.append(book.publisher)

    done = _on_review_saved(on_saved)
    try:
        review = Review.objects.first()
        with djperf.capture() as rec:
            review.save()
    finally:
        done()
    [finding] = of(rec, "n-plus-one")
    assert finding.fix.text == ".select_related('publisher')"
    assert str(finding.origin) == line(HERE, "receivers-own")


def test_a_receiver_reading_a_saved_objects_relation_gets_no_prefetch(library):
    from django.db.models.signals import post_save

    names = []

    def note_author(sender, instance, **kwargs):
        names.append(instance.author.name)  # receiver-read

    authors = list(Author.objects.all()[:3])
    post_save.connect(note_author, sender=Book)
    try:
        with djperf.capture() as rec:
            for author in authors:
                Book.objects.create(title="x", author_id=author.pk)  # saving-loop
    finally:
        post_save.disconnect(note_author, sender=Book)
    assert len(names) == 3
    [finding] = of(rec, "n-plus-one")
    # Each read follows a write the loop makes: a prefetch before the loop
    # would come too early. No code, and why.
    assert finding.fix.text.startswith(
        "no code: note_author() runs inside each write or signal at "
        f"{line(HERE, 'saving-loop')} (a signal receiver, or a save() override) and reads "
        "the relation after that write;"
    )


def test_copies_of_one_row_each_loading_again_get_no_prefetch(library):
    import copy

    book = Book.objects.select_related(None).get(title="B00")
    with djperf.capture() as rec:
        names = []
        for _ in range(3):
            twin = copy.copy(book)
            twin.__dict__.pop("_state", None)
            twin._state = type(book._state)()
            twin._state.fields_cache = {}
            names.append(twin.author.name)  # copy-reads
    assert len(set(names)) == 1
    [finding] = of(rec, "n-plus-one")
    # Three objects, one row: a prefetch over a list of them would not help.
    assert finding.fix.text.startswith(
        "no code: the 3 book objects it was loaded for are copies of one row"
    )


def test_distinct_rows_still_get_the_prefetch(library):
    books = list(Book.objects.all())
    with djperf.capture() as rec:
        names = [b.author.name for b in books]
    assert len(names) == 6
    [finding] = of(rec, "n-plus-one")
    assert "copies of one row" not in finding.fix.text


def _check_book(book):
    if not book.author.name:  # checking
        raise ValueError("no author name")


def test_objects_a_library_makes_one_per_row_get_a_dictionary_not_a_prefetch(
    library, settings, tmp_path
):
    # As django-import-export: one object made and cleaned per row, inside
    # the library's own loop; no list of them exists to prefetch on.
    from tests.helpers import third_party_package

    source = (
        "def import_rows(model, rows, clean):\n"
        "    made = []\n"
        "    for row in rows:\n"
        "        obj = model(**row)\n"
        "        clean(obj)\n"
        "        made.append(obj)\n"
        "    return made\n"
    )
    rows = [
        {"title": f"new {n}", "author_id": a}
        for n, a in enumerate(Author.objects.exclude(books=None).values_list("pk", flat=True))
    ]
    with (
        third_party_package(settings, tmp_path, "importer", source) as importer,
        djperf.capture() as rec,
    ):
        importer.import_rows(Book, rows * 2, _check_book)
    [finding] = of(rec, "n-plus-one")
    assert str(finding.location) == line(HERE, "checking")
    assert finding.fix.text == (
        "no code: the Book objects come from no queryset and no loop of yours (made one at "
        "a time, as an import library makes one per row and cleans it), so there is no list "
        "of them to prefetch on. Load the Author rows once before the work starts, into a "
        "dictionary by key (found = Author.objects.in_bulk(<the keys>)), and set each "
        "object's author from it after its fields are set and before its first read, in a "
        "hook the code that makes them calls for each one (django-import-export: an override "
        "of the resource's import_instance(instance, row), after "
        "super().import_instance(instance, row); not after_init_instance(), which runs "
        "before the fields are set): key = Author._meta.pk.to_python(book.author_id) (a key "
        "read from a file is still text until the object is cleaned), then if key in found: "
        "book.author = found[key] (a key with no row keeps the lookup as now, and its "
        "error); later reads use it too"
    )
    # The fix as written: the key as a file gives it still finds its row,
    # and a key with no row keeps the lookup, which fails as before.
    found = Author.objects.in_bulk([a for a in {r["author_id"] for r in rows}])
    for author_id in (rows[0]["author_id"], 10**6):
        book = Book(title="from a file", author_id=str(author_id))
        key = Author._meta.pk.to_python(book.author_id)
        if key in found:
            book.author = found[key]
        with CaptureQueriesContext(connection) as sent:
            try:
                book.author  # noqa: B018
            except Author.DoesNotExist:
                assert author_id == 10**6
            else:
                assert book.author.pk == author_id
        assert len(sent) == (0 if author_id in found else 1)


def test_objects_made_by_a_loop_of_yours_get_the_prefetch_before_it(library):
    rows = list(Book.objects.values_list("title", "author_id"))
    with djperf.capture() as rec:
        books = [Book(title=title, author_id=author) for title, author in rows]
        for book in books:
            _check_book(book)
    [finding] = of(rec, "n-plus-one")
    assert finding.fix.text.startswith("prefetch_related_objects(<the book list>, 'author')")


def test_the_key_when_the_line_itself_reads_the_relation_twice(library):
    # Both keyword arguments use only the key: the second read is the same
    # line's, not a later use of the object.
    with djperf.capture() as rec:
        for book in Book.objects.all():
            Book.objects.filter(author=book.author).exclude(author=book.author).exists()
    [finding] = of(rec, "n-plus-one")
    assert finding.fix.method == "use_key"
    assert "move each load" not in finding.message
