"""duplicate-query: the same statement with the same values, sent again."""

from __future__ import annotations

from collections.abc import Mapping

import django
import pytest
from django.utils.functional import cached_property

import djperf
from tests.helpers import class_line, line, of, page, third_party_package
from tests.testapp.models import Author, Book, Publisher, Tag

pytestmark = pytest.mark.django_db
HERE = __file__


# -- must flag ---------------------------------------------------------------------


def test_the_same_query_twice(library):
    with djperf.capture() as rec:
        list(Book.objects.filter(title__startswith="B0"))  # first-dup
        list(Book.objects.filter(title__startswith="B0"))
    [finding] = of(rec, "duplicate-query")
    assert (finding.model, finding.count) == ("testapp.Book", 2)
    assert finding.fix.method == "reuse"
    assert str(finding.location) == line(HERE, "first-dup")


def _count_authors():
    return Author.objects.count()  # helper-count


def test_located_where_most_copies_ran(library):
    with djperf.capture() as rec:
        Author.objects.count()
        for _ in range(3):
            _count_authors()
    [finding] = of(rec, "duplicate-query")
    assert finding.count == 4
    assert str(finding.location) == line(HERE, "helper-count")
    # Copies from two places: no one variable holds both.
    assert finding.fix.text.startswith("the copies run at ")
    assert line(HERE, "helper-count") in finding.fix.text
    assert "once per request and hand it to each" in finding.fix.text


def test_copies_at_several_lines_of_one_function_share_a_variable(library):
    with djperf.capture() as rec:
        first = list(Book.objects.filter(title__startswith="B1"))  # first-of-three
        second = list(Book.objects.filter(title__startswith="B1"))  # second-of-three
    assert first == second
    [finding] = of(rec, "duplicate-query")
    number = line(HERE, "second-of-three").rsplit(":", 1)[1]
    assert finding.fix.text == (
        f"keep the result of {line(HERE, 'first-of-three')} in a variable and reuse it at {number}"
    )


class _Shelf:
    @property
    def size(self):
        return Book.objects.count()  # property-count


def test_a_property_read_again_becomes_a_cached_property(library):
    shelf = _Shelf()
    with djperf.capture() as rec:
        sizes = (shelf.size, shelf.size, shelf.size)
    assert sizes == (6, 6, 6)
    [finding] = of(rec, "duplicate-query")
    assert str(finding.location) == line(HERE, "property-count")
    assert finding.fix.text == (
        "size is a property that runs it on every read: make it a cached_property "
        "(django.utils.functional) so one object computes it once"
    )


def test_a_property_read_at_several_lines_of_one_template_is_cached_plainly(library, tmp_path):
    from django.template import Context, Engine

    (tmp_path / "shelf.html").write_text("<p>{{ shelf.size }}</p>\n<p>{{ shelf.size }}</p>\n")
    template = Engine(dirs=[str(tmp_path)]).get_template("shelf.html")
    with djperf.capture() as rec:
        template.render(Context({"shelf": _Shelf()}))
    [finding] = of(rec, "duplicate-query")
    # One render reads it twice: nothing writes between its readers.
    assert finding.fix.text == (
        "size is a property that runs it on every read: make it a cached_property "
        "(django.utils.functional) so one object computes it once"
    )


def test_a_property_calling_a_package_gets_a_cached_property_too(library, settings, tmp_path):
    # djangoproject.com's obj.thumbnail, a property calling sorl's
    # get_thumbnail(), read five times by one template.
    source = (
        "from tests.testapp.models import Tag\n"
        "def size_of(name):\n"
        "    return Tag.objects.filter(name=name).count()\n"
    )
    with third_party_package(settings, tmp_path, "sizer", source) as sizer:

        class Logo:
            @property
            def thumbnail(self):
                return sizer.size_of("t0")  # package-property

        logo = Logo()
        with djperf.capture() as rec:
            sizes = [logo.thumbnail, logo.thumbnail, logo.thumbnail]
    assert sizes == [1, 1, 1]
    [finding] = of(rec, "duplicate-query")
    assert str(finding.location) == line(HERE, "package-property")
    assert finding.fix.text == (
        "the query is sizer's: thumbnail is a property that runs it on every read: make it "
        "a cached_property (django.utils.functional) so one object computes it once"
    )


class _Catalogue:
    @property
    def stocked(self):
        return Book.objects.filter(title__startswith="B").count()  # read-by-two

    def price(self):
        return self.stocked  # first-reader

    def level(self):
        return self.stocked  # second-reader


def test_a_property_read_by_two_functions_is_cached_only_if_nothing_changes(library):
    catalogue = _Catalogue()
    with djperf.capture() as rec:
        assert (catalogue.price(), catalogue.level()) == (6, 6)
    [finding] = of(rec, "duplicate-query")
    # Each reader reads it once; a cached_property could outlive a write
    # between them (a product saved again with its stock).
    assert finding.fix.text == (
        "stocked is a property that runs it on every read: make it a cached_property "
        "(django.utils.functional) so one object computes it once, if nothing it reads "
        f"changes between its readers ({line(HERE, 'first-reader')}, "
        f"{line(HERE, 'second-reader')}); else read it once and hand the value to each"
    )


class _StockedAuthor:
    def __init__(self, author):
        self.author = author
        self.books = author.books

    @property
    def stocked(self):
        return self.books.exists()  # relation-property

    def price(self):
        return self.stocked  # relation-reader

    def level(self):
        return self.stocked  # other-relation-reader


def test_a_property_over_its_own_relation_is_read_once_not_cached_first(library):
    # oscar's product.has_stockrecords, read by can_be_parent() and the
    # product page: a cached_property goes stale when a test's factory adds
    # a stock record to a product already read.
    shelf = _StockedAuthor(Author.objects.first())
    with djperf.capture() as rec:
        assert (shelf.price(), shelf.level()) == (True, True)
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text == (
        "stocked is a property that runs it on every read, over self.books, rows other code "
        "adds and removes: read it once and hand the value to each reader "
        f"({line(HERE, 'relation-reader')}, {line(HERE, 'other-relation-reader')}; in a "
        "template, {% with %} around them). A cached_property (django.utils.functional) "
        "would keep the first answer for the object's life, stale wherever code changes "
        "books after a read (a books.create() on an object already read, in the code or its "
        "tests), unless each such place drops it (del obj.stocked)"
    )


def _author_count_each_call():
    return Author.objects.count()  # per-call-count


def _counts_for_each(values):
    counts = []
    for _ in values:
        counts.append(_author_count_each_call())  # calls-per-value
    return counts


def _count_of(author_id):
    return Book.objects.filter(author_id=author_id).count()  # deep-count


def _line_total(author_id):
    return _count_of(author_id)  # middle-call


def _totals(author_ids):
    totals = []
    for author_id in author_ids:
        totals.append(_line_total(author_id))  # outer-loop
    return totals


def test_a_loop_several_calls_out_is_the_one_named(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        _totals([author.pk] * 3)
    [finding] = of(rec, "duplicate-query")
    assert str(finding.location) == line(HERE, "deep-count")
    # Neither _count_of() nor _line_total() repeats anything: the loop in
    # _totals() does, two calls out.
    assert finding.fix.text == (
        f"_count_of() runs it on every call, and the loop at {line(HERE, 'outer-loop')} in "
        f"_totals(), 2 calls out from {line(HERE, 'deep-count')} (through _line_total() at "
        f"{line(HERE, 'middle-call')}) repeats the calls; its values come from the arguments "
        "(the same this time, not always): keep a dictionary from the values asked for to "
        "their results in _totals() (or for the request), and hand it down"
    )


def test_a_loop_asking_for_other_values_too_keeps_a_dictionary(library):
    first, second = Author.objects.all()[:2]
    with djperf.capture() as rec:
        _totals([first.pk, second.pk, first.pk, first.pk])
    [finding] = of(rec, "duplicate-query")
    assert finding.count == 3
    # One value got once before the loop would not do: the loop asks for
    # several, some again.
    assert finding.fix.text.startswith(
        f"_count_of() runs it on every call, and the loop at {line(HERE, 'outer-loop')} "
    )
    assert finding.fix.text.endswith(
        "repeats the calls; it also ran with other values: keep a dictionary from the values "
        "asked for to their results in _totals() (or for the request), and hand it down"
    )


def test_a_query_in_a_loop_asking_for_other_values_too_keeps_a_dictionary(library):
    first, second = Author.objects.all()[:2]
    with djperf.capture() as rec:
        for author_id in (first.pk, second.pk, first.pk):
            Book.objects.filter(author_id=author_id).count()  # in-loop-varied
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text == (
        "it also ran with other values: keep a dictionary from the values asked for to their "
        f"results, before the loop at {line(HERE, 'in-loop-varied')}, and look each one up "
        "there first"
    )


class _AuthorShelf:
    def __init__(self, author_id):
        self.author_id = author_id

    @cached_property
    def size(self):
        return Book.objects.filter(author_id=self.author_id).count()  # cached-size


def test_a_cached_property_run_again_means_other_objects(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        sizes = [_AuthorShelf(author.pk).size for _ in range(3)]  # fresh-shelf
    assert len(set(sizes)) == 1
    [finding] = of(rec, "duplicate-query")
    assert str(finding.location) == line(HERE, "cached-size")
    # A cached_property runs once per object: a variable or another cache
    # at its line cannot help. No code, and why.
    assert finding.fix.text.startswith(
        "no code: size is a cached_property, computed once per object, and it ran 3 times "
        f"with the same values (read at {line(HERE, 'fresh-shelf')}), so as many objects "
        "computed it"
    )


def test_a_cached_property_read_on_one_object_is_no_repeat(library):
    author = Author.objects.first()
    shelf = _AuthorShelf(author.pk)
    with djperf.capture() as rec:
        sizes = [shelf.size for _ in range(3)]
    assert len(set(sizes)) == 1
    assert of(rec, "duplicate-query") == []


def test_a_function_run_again_per_call_is_fixed_outside_it(library):
    with djperf.capture() as rec:
        counts = _counts_for_each(range(3))
    assert counts == [4, 4, 4]
    [finding] = of(rec, "duplicate-query")
    assert str(finding.location) == line(HERE, "per-call-count")
    # A variable inside the function cannot help: each call sends it again.
    assert finding.fix.text == (
        f"_author_count_each_call() runs it on every call, and the loop at "
        f"{line(HERE, 'calls-per-value')} in _counts_for_each() repeats the calls: get the "
        "result once before that "
        "loop and hand it down (or cache it for the request)"
    )


def test_the_same_count_in_a_loop(library):
    with djperf.capture() as rec:
        for _ in Book.objects.all():
            Author.objects.count()
    [finding] = of(rec, "duplicate-query")
    assert finding.count == 6
    # The loop is the line's own function's: a variable before it serves.
    assert finding.fix.text == "keep the result in a variable (or cached_property) and reuse it"


def test_one_instances_related_manager_read_twice_in_a_template(library):
    from django.template import Context, Template

    template = Template(
        "{% if author.books.all %}<ul>{% for b in author.books.all %}{{ b }}{% endfor %}"
        "</ul>{% endif %}"
    )
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        html = template.render(Context({"author": author}))
    assert html == "<ul>B00B01</ul>"
    [finding] = of(rec, "duplicate-query")
    assert (finding.model, finding.field, finding.count) == ("testapp.Author", "books", 2)
    assert finding.fix.text == (
        "books = list(author.books.all()), then use books "
        "(in a template: {% with books=author.books.all %})"
    )
    assert "for the same instance" in finding.message
    assert of(rec, "n-plus-one") == []


def _first_titles(author):
    return [b.title for b in author.books.all()][:1]  # reader-one


def _book_count(author):
    return len(author.books.all())  # reader-two


def test_one_instances_related_manager_read_in_two_functions_is_prefetched_once(library):
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        _first_titles(author)
        _book_count(author)
    [finding] = of(rec, "duplicate-query")
    # No variable spans two functions: a prefetch on the instance serves both.
    assert finding.fix.method == "prefetch_related_objects"
    assert finding.fix.text == (
        "prefetch_related_objects([author], 'books') once, before the first read (from "
        "django.db.models), or .prefetch_related('books') on the queryset that loads the "
        "author: every author.books.all() after it reads the prefetched rows, wherever it is"
    )
    assert "Load it once: " in finding.message


def _titles_of(author):
    return len(author.books.all())  # called-again-read


def test_one_instances_related_manager_read_by_a_function_called_again_is_prefetched(library):
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        first = _titles_of(author)
        again = _titles_of(author)
    assert first == again
    [finding] = of(rec, "duplicate-query")
    # A variable inside _titles_of() lives for one call.
    assert finding.fix.text.startswith("prefetch_related_objects([author], 'books') ")


def test_one_instances_many_to_many_read_three_times(library):
    with djperf.capture() as rec:
        book = Book.objects.get(title="B00")
        names = [tag.name for tag in book.tags.all()]
        count = len(book.tags.all())  # first-repeat
        first = book.tags.all()[0] if book.tags.all() else None
    # (A many-to-many read has no order: PostgreSQL may give either tag first.)
    assert (sorted(names), count, first.name in names) == (["t0", "t1"], 2, True)
    [finding] = of(rec, "duplicate-query")
    assert (finding.field, finding.count) == ("tags", 3)
    assert str(finding.location) == line(HERE, "first-repeat")


def test_an_admin_changelist_counting_its_total_again(staff):
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    [finding] = of(rec, "duplicate-query")
    assert (finding.model, finding.count) == ("testapp.Book", 2)
    assert finding.fix.text == "show_full_result_count = False on BookAdmin"
    # One count too many per page: worth knowing, not a warning.
    assert finding.severity == "info"
    assert str(finding.built) == class_line("BookAdmin")


# must not flag


def test_the_same_query_in_a_test_loop_is_the_tests(library):
    from tests import as_tests

    def count_books(_):
        return Book.objects.count()

    with djperf.capture() as rec:
        as_tests.call_each(count_books, range(3))
    [finding] = of(rec, "duplicate-query")
    assert finding.in_tests and finding.severity == "info"
    assert str(finding.location) == line("tests/as_tests.py", "the-test-loop")


def test_each_call_from_a_test_is_judged_alone_never_summed(library):
    from tests import as_tests

    def count_twice(_):
        return Book.objects.count() + Book.objects.count()  # twice-per-call

    with djperf.capture() as rec:
        as_tests.call_each(count_twice, range(3))
    [finding] = of(rec, "duplicate-query")
    # Each call repeats the count once: one round trip to save per call, an
    # info; summed over the test's three calls it would read as 5 repeats.
    assert not finding.in_tests
    assert (finding.count, finding.severity) == (2, "info")
    assert str(finding.location) == line(HERE, "twice-per-call")


def _deep(depth):
    return _deep(depth - 1) if depth else Book.objects.count()


def test_a_test_loop_far_above_the_query_is_still_the_tests(library):
    # A factory's save running a receiver that reindexes a search engine:
    # over a hundred frames between the test and the query.
    from tests import as_tests

    with djperf.capture() as rec:
        as_tests.call_each(lambda _: _deep(150), range(3))
    [finding] = of(rec, "duplicate-query")
    assert finding.in_tests and finding.severity == "info"
    assert str(finding.location) == line("tests/as_tests.py", "the-test-loop")


def test_a_test_calling_from_three_lines_is_named_on_each(library):
    from tests import as_tests

    with djperf.capture() as rec:
        as_tests.call_three_times(lambda: Author.objects.count())
    [finding] = of(rec, "duplicate-query")
    assert finding.in_tests and finding.severity == "info"
    first = line("tests/as_tests.py", "first-call")
    path, number = first.rsplit(":", 1)
    lines = ", ".join(f"{path}:{int(number) + i}" for i in range(3))
    assert f"separate call made by test code at {lines}: the test repeats" in finding.message


def test_severity_counts_the_queries_a_fix_saves(library):
    # Twice: one query to save, info. Three times: two to save, a warning.
    # warn_from moves the line.
    def ask(times):
        for _ in range(times):
            Book.objects.filter(title="B00").exists()  # asked-again

    with djperf.capture() as twice:
        ask(2)
    with djperf.capture() as thrice:
        ask(3)
    with djperf.capture(thresholds={"duplicate-query": {"warn_from": 3}}) as raised:
        ask(3)
    assert [f.severity for f in of(twice, "duplicate-query")] == ["info"]
    assert [f.severity for f in of(thrice, "duplicate-query")] == ["warning"]
    assert [f.severity for f in of(raised, "duplicate-query")] == ["info"]


def test_a_refined_reread_is_kept_never_widened_to_all(library):
    # author.books.order_by().filter(...).last() twice: keep that result; a
    # list(author.books.all()) would read every book of the author.
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        for _ in range(3):
            author.books.order_by().filter(title__startswith="B").last()
    [finding] = of(rec, "duplicate-query")
    # last() of an unordered queryset: ordered by -pk up to Django 6.0, a
    # reverse() of no ordering on 6.1.
    last = ".order_by('-pk')[:1]" if django.VERSION < (6, 1) else ".reverse()[:1]"
    # The filter's value as the line wrote it: a literal means the same anywhere.
    assert finding.fix.text == (
        f'keep the result of author.books.filter(title__startswith="B"){last} '
        "in a variable (or a cached_property) and use it again"
    )
    assert ".all()" not in finding.fix.text


def _public_books(author):
    return author.books.filter(title__startswith="B")  # built-in-a-method


def test_a_reread_built_in_a_method_keeps_the_methods_filter(library):
    author = Author.objects.get(name="A0")
    prefix = "B"
    with djperf.capture() as rec:
        for _ in range(3):
            list(_public_books(author))
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text.startswith(
        'keep the result of author.books.filter(title__startswith="B") in a variable'
    )
    with djperf.capture() as rec:
        for _ in range(3):
            list(author.books.filter(title__startswith=prefix))
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text.startswith(
        "keep the result of author.books.filter(title__startswith=...) in a variable"
    )


def test_a_refined_reread_in_two_templates_of_one_render_keeps_the_variable(library, tmp_path):
    # As oscar's voucher set page and the partial it includes: one render,
    # where a {% with %} around the include spans both reads.
    from django.template import Context, Engine

    (tmp_path / "part.html").write_text("{{ author.books.all.0.pk }}\n")
    (tmp_path / "page.html").write_text("{{ author.books.all.0.pk }}\n{% include 'part.html' %}\n")
    template = Engine(dirs=[str(tmp_path)]).get_template("page.html")
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        template.render(Context({"author": author}))
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text == (
        "keep the result of author.books.all()[:1] in a variable (or a cached_property) and "
        "use it again"
    )


def _first_b_book(author):
    return list(author.books.filter(title__startswith="B").order_by("title")[:1])  # refined-one


def _b_books(author):
    return list(author.books.filter(title__startswith="B").order_by("title")[:1])  # refined-two


def test_a_refined_reread_in_two_functions_is_kept_on_the_instance(library):
    # As oscar's product.children.public() read by a template and by the
    # strategy: a variable in one serves not the other.
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        _first_b_book(author)
        _b_books(author)
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.method == "Prefetch"
    assert finding.fix.text.startswith(
        f"the reads come from separate places ({line(HERE, 'refined-one')}, "
        f"{line(HERE, 'refined-two')}), and a variable in one of them lives one call: load it "
        "once for the author, .prefetch_related(Prefetch('books', queryset=Book.objects"
        ".filter(title__startswith=\"B\").order_by('title')[:1], to_attr='selected_books'))"
    )
    assert "Keep it for every read: " in finding.message


def test_a_refined_reread_in_two_functions_names_the_queryset_that_loaded_the_instance(
    library,
):
    with djperf.capture() as rec:
        for author in Author.objects.filter(name="A0"):  # loads-the-author
            _first_b_book(author)
            _b_books(author)
    [finding] = of(rec, "duplicate-query")
    assert (
        ".prefetch_related(Prefetch('books', queryset=Book.objects"
        ".filter(title__startswith=\"B\").order_by('title')[:1], to_attr='selected_books')) "
        f"on the queryset at {line(HERE, 'loads-the-author')}, which loads the author"
    ) in finding.fix.text


def test_a_refined_reread_names_every_queryset_that_loaded_the_instances_and_a_views_get_object(
    library,
):
    # oscar's select_stockrecord(): products of basket lines and the
    # product page's own, which ProductDetailView loads with get_object().
    from django.views.generic import DetailView

    class AuthorView(DetailView):
        model = Author

    author = Author.objects.get(name="A0")
    view = AuthorView(kwargs={"pk": author.pk})
    with djperf.capture() as rec:
        shown = view.get_object()  # view-loads
        _first_b_book(shown)
        _b_books(shown)
        for book in Book.objects.filter(author=author).select_related("author")[:1]:  # lines
            _first_b_book(book.author)
            _b_books(book.author)
    [finding] = of(rec, "duplicate-query")
    assert (
        "to_attr='selected_books')) on each queryset that loads the authors (at "
        f"{line(HERE, 'view-loads')} (the view's get_object() there loads it from the view's "
        "get_queryset(), its queryset or its model: give the view a get_queryset() that adds "
        f"it), as 'books'; at {line(HERE, 'lines')}, as 'author__books')"
    ) in finding.fix.text


def _b_books_reviewed(author):
    books = list(author.books.filter(title__startswith="B").order_by("title")[:1])  # b-books
    for book in books:
        list(book.reviews.all())  # each-books-reviews
    return books


def test_a_refined_reread_whose_rows_are_then_read_one_at_a_time_says_the_prefetch_loads_it(
    library,
):
    # oscar's product page: children.public() read again, and each child's
    # stock records read by the strategy; a Prefetch of the children alone
    # leaves that one query per child.
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        _first_b_book(author)
        _b_books_reviewed(author)
    [finding] = [f for f in of(rec, "duplicate-query") if f.field == "books"]
    assert finding.fix.text.endswith(
        f"; each Book it loads is then read for reviews at {line(HERE, 'each-books-reviews')}, "
        "one at a time: give that Prefetch's queryset .prefetch_related('reviews') too, or "
        "each still loads its own"
    )


def test_a_refined_reread_whose_rows_are_not_read_further_adds_nothing(library):
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        _first_b_book(author)
        _b_books(author)
    [finding] = of(rec, "duplicate-query")
    assert "each Book it loads" not in finding.fix.text


def _stocked_once(publisher):
    return list(publisher.stocks.filter(count__gt=0))  # stocked-one


def _stocked_twice(publisher):
    return list(publisher.stocks.filter(count__gt=0))  # stocked-two


def test_a_refined_reread_the_project_prefetches_itself_names_the_projects_method(library):
    # oscar's product page: children.public() read again, which the
    # project's prefetch_public_children() prefetches into the attribute
    # get_public_children() looks for.
    from tests.testapp.models import PublisherQuerySet, Stock

    publisher = Publisher.objects.order_by("pk").first()
    Stock.objects.create(partner=publisher, sku="s", code="c", count=1)
    with djperf.capture() as rec:
        for shown in Publisher.objects.filter(pk=publisher.pk):  # stocked-publisher
            _stocked_once(shown)
            _stocked_twice(shown)
    [finding] = of(rec, "duplicate-query")
    first = PublisherQuerySet.prefetch_counted_stocks.__code__.co_firstlineno
    assert (
        "the project's PublisherQuerySet.prefetch_counted_stocks() (at "
        f"tests/testapp/models.py:{first}) prefetches stocks into _prefetched_counted_stocks, "
        "which the project's code reads: call .prefetch_counted_stocks() on the queryset at "
        f"{line(HERE, 'stocked-publisher')}, if what it loads is what this code reads; else "
        "the reads come from separate places"
    ) in finding.fix.text


class _BooksByTitle:
    # As oscar's QuerysetCache: one queryset, walked by .iterator() on
    # demand, and evaluated whole by another reader.
    def __init__(self, author):
        self.books = author.books.all()
        self.rows = self.books.iterator()

    def find(self, title):
        for book in self.rows:  # iterated-rows
            if book.title == title:
                return book
        return None

    def all(self):
        return list(self.books)  # listed-rows


def test_a_reread_because_one_read_went_through_iterator_says_so(library):
    cache = _BooksByTitle(Author.objects.get(name="A0"))
    with djperf.capture() as rec:
        cache.all()
        cache.find("B00")
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text == (
        f"no code: the read at {line(HERE, 'iterated-rows')} runs through .iterator(), which "
        "keeps no rows in the queryset's result cache, so the read at "
        f"{line(HERE, 'listed-rows')} fetches the same author.books rows again. Where both "
        "read one queryset object (kept on an object, as a cache keeps it), evaluate it once, "
        "list(queryset), and read that list at both instead of calling .iterator() on it; "
        "where each builds its own queryset, keep the rows once for the author and read them "
        "at both"
    )


def _nav_count():
    return Book.objects.count()  # nav-count


def _menu_count():
    return Book.objects.count()  # menu-count


def _paged_books(nav_tags):
    # babybuddy's list views: the paginator counts the filtered list, and
    # two nav tags count every child.
    from django.test import RequestFactory
    from django.views.generic import ListView

    class BookList(ListView):
        model = Book
        paginate_by = 2
        ordering = "pk"

        def get_context_data(self, **kwargs):
            return super().get_context_data(**kwargs)  # paged-count

    view = BookList()
    view.setup(RequestFactory().get("/"))
    view.object_list = view.get_queryset()
    with djperf.capture() as rec:
        view.get_context_data()
        for tag in nav_tags:
            tag()
    return rec


def test_a_list_views_paginator_count_is_left_out_of_the_shared_count(library):
    rec = _paged_books([_nav_count, _menu_count])
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text == (
        f"the copies run at {line(HERE, 'nav-count')} and {line(HERE, 'menu-count')}: get the "
        "result once per request and hand it to each (an argument, a context variable, or a "
        f"value cached on the request); the one at {line(HERE, 'paged-count')} is the count of "
        "the list the view pages, which the request's filters narrow: the same as the others "
        "only while nothing is filtered: leave it out"
    )


def test_a_paginator_count_and_one_other_count_have_no_one_result_to_share(library):
    rec = _paged_books([_nav_count])
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text.startswith(
        f"no code: the one at {line(HERE, 'paged-count')} is the count of the list the view pages"
    )


def _titled(publisher):
    return list(publisher.book_set.filter(title__startswith="B"))  # titled-one


def _titled_reviewed(publisher):
    books = list(publisher.book_set.filter(title__startswith="B"))  # titled-two
    for book in books:
        list(book.reviews.all())  # titled-reviews
    return books


def test_the_projects_prefetch_taking_a_queryset_gets_what_its_rows_need_there(library):
    # oscar's product page: prefetch_public_children(queryset=...) must
    # bring the children's stock records, which the strategy reads next.
    publisher = Publisher.objects.filter(book__isnull=False).first()
    with djperf.capture() as rec:
        for shown in Publisher.objects.filter(pk=publisher.pk):
            _titled(shown)
            _titled_reviewed(shown)
    [finding] = [f for f in of(rec, "duplicate-query") if f.field == "book_set"]
    assert finding.fix.text.startswith("the project's PublisherQuerySet.prefetch_titled_books()")
    assert finding.fix.text.endswith(
        f"; each Book it loads is then read for reviews at {line(HERE, 'titled-reviews')}, one "
        "at a time: give that Prefetch's queryset (or, with prefetch_titled_books(), its "
        "queryset= argument) .prefetch_related('reviews') too, or each still loads its own"
    )


def test_a_refined_reread_names_the_loading_queryset_beside_objects_the_code_made(library):
    # oscar's select_stockrecord(): products a test's factory made (no
    # queryset loaded them) beside the page's own, which get_object() loaded.
    made = Author.objects.create(name="made here")
    Book.objects.create(title="B made", author=made)
    with djperf.capture() as rec:
        for shown in Author.objects.filter(name="A0"):  # loads-one-author
            _first_b_book(shown)
            _b_books(shown)
        _first_b_book(made)
        _b_books(made)
    [finding] = of(rec, "duplicate-query")
    assert (
        f"to_attr='selected_books')) on the queryset at {line(HERE, 'loads-one-author')}, "
        "which loads the author"
    ) in finding.fix.text
    assert "the query as now for authors from elsewhere" in finding.fix.text


def _tags_b(book):
    return list(book.tags.filter(name__startswith="t"))  # tags-one


def _tags_again(book):
    return list(book.tags.filter(name__startswith="t"))  # tags-two


def test_a_refined_reread_of_rows_of_a_refined_manager_names_that_managers_queryset(library):
    # As oscar's line products: the Prefetch goes on the queryset
    # basket.all_lines() builds, from its rows.
    def shelved(publisher):
        return publisher.book_set.order_by("title")[:1]  # shelved-books

    with djperf.capture() as rec:
        publisher = Publisher.objects.filter(book__isnull=False).first()
        for book in shelved(publisher):
            _tags_b(book)
            _tags_again(book)
    findings = [f for f in of(rec, "duplicate-query") if f.field == "tags"]
    assert findings
    assert (
        f"on the queryset at {line(HERE, 'shelved-books')}, which loads the book"
        in findings[0].fix.text
    )


def _discount_for(author, title):
    return list(author.books.filter(title=title))  # per-call-refined


def test_a_refined_reread_with_unknown_values_says_when_a_dictionary_is_the_fix(
    library,
):
    # As oscar's order.discounts.filter(offer_id=...) per line: the value
    # comes from each call; no Prefetch can hold it.
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        _discount_for(author, "B00")  # discount-one
        _discount_for(author, "B00")  # discount-two
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text.startswith(
        "the reads come from separate calls of _discount_for() (from "
        f"{line(HERE, 'discount-one')}, {line(HERE, 'discount-two')}), and a variable in one "
        "of them lives one call: load it once for the author, .prefetch_related(Prefetch("
        "'books', queryset=Book.objects.filter(title=...), to_attr='selected_books'))"
    )
    # The value is not known: the same at every read, or the call's own.
    assert finding.fix.text.endswith(
        "; the filter's values as the code gives them, when they are the same at every read; "
        "when each call gives its own, keep a dictionary on the author from the values asked "
        "for to the result instead"
    )


def _discounts_of_line(author, titles):
    for title in titles:
        list(author.books.filter(title=title))  # line-discount


def test_a_refined_reread_in_a_loop_run_once_per_call_is_from_separate_calls(library):
    # oscar's create_line_discount_models(): its loop over one line's
    # discounts runs once per call; place_order's loop makes the calls, each
    # after a Line insert of its own.
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        for number in range(3):
            Tag.objects.create(name=f"line {number}")
            _discounts_of_line(author, ["B00"])  # per-line
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text.startswith(
        "the reads come from separate calls of _discounts_of_line() (from "
        f"{line(HERE, 'per-line')}), and a variable in one of them lives one call"
    )


def test_a_refined_reread_in_a_loop_of_one_call_keeps_the_variable(library):
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        _discounts_of_line(author, ["B00", "B00", "B00"])
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text.startswith("keep the result of author.books.filter(title=")


# -- must not flag -----------------------------------------------------------------


def test_duplicate_not_a_related_manager_read_per_row(library):
    # Several instances of one queryset: n-plus-one's, which a prefetch fixes.
    with djperf.capture() as rec:
        for author in Author.objects.all():
            if author.books.all():
                list(author.books.all())
    assert of(rec, "duplicate-query") == []
    [finding] = of(rec, "n-plus-one")
    assert finding.field == "books"


def test_duplicate_not_a_related_manager_read_after_a_write(library):
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        before = list(author.books.all())
        Book.objects.create(title="new", author=author)
        after = list(author.books.all())
    assert (len(before), len(after)) == (2, 3)
    assert of(rec, "duplicate-query") == []


def test_duplicate_not_a_related_manager_refined_differently(library):
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        list(author.books.all())
        list(author.books.filter(title="B00"))
        list(author.books.order_by("-title"))
    assert of(rec, "duplicate-query") == []


def test_duplicate_not_a_prefetched_related_manager(library):
    with djperf.capture() as rec:
        author = Author.objects.prefetch_related("books").get(name="A0")
        list(author.books.all())
        list(author.books.all())
    assert rec.findings == []


def test_duplicate_not_two_instances_each_read_once(library):
    first = Author.objects.get(name="A0")
    second = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        list(first.books.all())
        list(second.books.all())
    assert of(rec, "duplicate-query") == []


def test_duplicate_not_across_a_write_to_its_table(library):
    author = Author.objects.get(name="A0")
    with djperf.capture() as rec:
        before = Book.objects.filter(author=author).count()
        Book.objects.create(title="new", author=author)
        after = Book.objects.filter(author=author).count()
        book = Book.objects.get(title="B00")
        Book.objects.filter(pk=book.pk).update(title="B00 second edition")
        book = Book.objects.get(pk=book.pk)
        again = Book.objects.get(pk=book.pk)
    assert (before, after, again.title) == (2, 3, "B00 second edition")
    # Only the last get() repeats a read with nothing written in between.
    [finding] = of(rec, "duplicate-query")
    assert finding.count == 2


def test_duplicate_not_with_other_values(library):
    with djperf.capture() as rec:
        list(Book.objects.filter(title__startswith="B0"))
        list(Book.objects.filter(title__startswith="B1"))
    assert of(rec, "duplicate-query") == []


def test_duplicate_not_writes(library):
    with djperf.capture() as rec:
        Tag.objects.filter(name="t0").update(name="t0")
        Tag.objects.filter(name="t0").update(name="t0")
    assert of(rec, "duplicate-query") == []


def test_duplicate_not_djangos_lazy_loads(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.publisher  # noqa: B018 - two publishers, each loaded three times
    assert of(rec, "duplicate-query") == []


def test_not_djangos_session_and_auth_bookkeeping(library, rf):
    from django.contrib.auth import get_user
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    user = User.objects.create_user("reader", password="x")
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.save()
    with djperf.capture() as rec:
        for _ in range(6):
            request = rf.get("/")
            request.session = SessionStore(session_key=store.session_key)
            assert get_user(request) == user
    assert len(rec.queries) >= 12
    assert {q.role for q in rec.queries} == {"bookkeeping"}
    assert rec.findings == []


def test_not_the_counts_of_a_filtered_changelist(staff):
    # The page's count and the total differ: no duplicate.
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/?author__id__exact=1")
    assert of(rec, "duplicate-query") == []


def test_not_the_same_lookup_in_two_requests(library, client, settings):
    # Each request looks up its book: the same query, once per request.
    settings.ROOT_URLCONF = "tests.testapp.urls"
    pk = Book.objects.values_list("pk", flat=True)[0]
    with djperf.capture() as rec:
        for _ in range(3):
            assert client.get(f"/books/{pk}/").status_code == 200
    books = [q for q in rec.queries if "testapp_book" in q.sql]
    assert len(books) == 3
    assert of(rec, "duplicate-query") == []
    # The view's caller is no line of the test: the test made a request.
    assert {q.caller for q in books} == {None}


def test_not_a_redirect_whose_target_asks_the_same(library, client, settings):
    settings.ROOT_URLCONF = "tests.testapp.urls"
    with djperf.capture() as rec:
        response = client.get("/first/", follow=True)
        response = client.get("/first/", follow=True)
    assert response.status_code == 200
    assert len({q.request for q in rec.queries}) == 4
    assert of(rec, "duplicate-query") == []


def _counts_for(author_ids):
    counts = []
    for author_id in author_ids:
        counts.append(Book.objects.filter(author_id=author_id).count())  # inner-varied
    return counts


def test_a_loop_of_its_own_called_again_keeps_the_dictionary_outside(library):
    # As oscar's available(): a loop over offers inside, the function called
    # again per basket line; the same offers come back in every call.
    first, second = Author.objects.all()[:2]
    with djperf.capture() as rec:
        for _ in range(3):
            _counts_for([first.pk, second.pk])  # outer-calls
    findings = of(rec, "duplicate-query")
    assert findings
    for finding in findings:
        assert f"called again by the loop at {line(HERE, 'outer-calls')}" in finding.fix.text
        assert finding.fix.text.endswith("one made inside _counts_for() lives one call")


def _ensure_tag():
    if not Tag.objects.filter(name="ensured").exists():  # ensure-check
        Tag.objects.create(name="ensured")  # ensure-create


def test_a_lookup_the_loops_first_pass_changes_is_not_got_before_the_loop(library):
    # As babybuddy's reset: migrate per app, the first run creates the
    # superuser the later runs find. A result got before the loop is stale.
    with djperf.capture() as rec:
        for _ in range(4):
            _ensure_tag()  # ensure-loop
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text.endswith(
        f"that loop also writes this table (at {line(HERE, 'ensure-create')}) before these "
        "copies, so a result got before the loop would be stale: keep the first result got "
        "after that write (a variable the loop fills on first use) and hand it down"
    )


def _ensure_named(name):
    if not Tag.objects.filter(name=name).exists():
        Tag.objects.create(name=name)


def test_a_lookup_with_values_from_the_calls_keeps_the_dictionary_when_the_loop_writes(library):
    # As oscar's category importer: a dictionary the loop keeps, filled with
    # what each lookup (or create) gave, serves the later rows.
    with djperf.capture() as rec:
        for name in ("a", "a", "a"):
            _ensure_named(f"named {name}")
    findings = of(rec, "duplicate-query")
    assert findings
    for finding in findings:
        assert "keep a dictionary from the values asked for to their results" in (finding.fix.text)
        assert "would be stale" not in finding.fix.text


def _first_caller(ids):
    return _counts_for(ids)  # caller-one


def _second_caller(ids):
    return _counts_for(ids)  # caller-two


def test_a_loop_of_its_own_called_from_separate_places_says_a_dictionary_in_it_lives_one_call(
    library,
):
    # As oscar's available(), called per line, per condition and per benefit
    # step: no loop djperf saw repeats the calls, and a dictionary before
    # the loop inside the function would be made again in each call.
    first, second = Author.objects.all()[:2]
    with djperf.capture() as rec:
        _first_caller([first.pk, second.pk])
        _second_caller([first.pk, second.pk])
    findings = of(rec, "duplicate-query")
    assert findings
    for finding in findings:
        assert finding.fix.text == (
            "it also ran with other values: keep a dictionary from the values asked for to "
            "their results; but the copies come from separate calls of _counts_for() (from "
            f"{line(HERE, 'caller-one')}, {line(HERE, 'caller-two')}), and a dictionary made "
            "inside it lives one call: keep it where those calls meet (on the object the "
            "values belong to, or for the request) and hand it in"
        )


class _Range:
    def __init__(self, author_id):
        self.author_id = author_id

    def books(self):
        return Book.objects.filter(author_id=self.author_id).count()  # once-elsewhere

    @property
    def reorderable(self):
        return Book.objects.filter(author_id=self.author_id).count()  # per-row-property


class _CachingRange:
    def __init__(self, author_id):
        self.author_id = author_id
        self._books = None

    def books(self):
        return Book.objects.filter(author_id=self.author_id).count()  # once-elsewhere-too

    @property
    def reorderable(self):
        return Book.objects.filter(author_id=self.author_id).count()  # dropped-property

    def invalidate_cached_books(self):
        self._books = None


def test_a_property_of_a_class_that_drops_its_caches_is_dropped_there_too(library):
    # As oscar's Range.is_reorderable: invalidate_cached_queryset() clears the
    # range's other cache; a new cached_property must be cleared there too.
    author = Author.objects.first()
    shelf = _CachingRange(author.pk)
    with djperf.capture() as rec:
        shelf.books()
        for _ in range(3):
            shelf.reorderable  # noqa: B018
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text.endswith(
        "so one object computes it once, and drop it where the class drops its other cached "
        "state (del self.reorderable in invalidate_cached_books()), or it goes stale after "
        "them"
    )


def test_copies_mostly_at_a_property_read_again_cache_the_property(library):
    author = Author.objects.first()
    shelf = _Range(author.pk)
    with djperf.capture() as rec:
        shelf.books()
        flags = []
        for _ in range(3):
            flags.append(shelf.reorderable)
    assert len(set(flags)) == 1
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text == (
        f"reorderable is a property that runs it on every read (at "
        f"{line(HERE, 'per-row-property')}): make it a cached_property "
        "(django.utils.functional) so one object computes it once"
    )


def _stage_check(author_ids):
    for author_id in author_ids:
        _count_of(author_id)  # stage-loop


def _apply_stages(author_ids):
    _stage_check(author_ids)  # stage-one
    _stage_check(author_ids)  # stage-two


def test_a_loop_whose_function_is_called_from_two_places_keeps_the_value_where_they_meet(
    library,
):
    # As oscar's is_satisfied(): its loop over the basket's lines asks each
    # product once, but each stage of an offer (apply, consume) runs it
    # again; a dictionary kept in it lives one call.
    author = Author.objects.first()
    with djperf.capture() as rec:
        _apply_stages([author.pk])
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text == (
        f"_count_of() runs it on every call, and the loop at {line(HERE, 'stage-loop')} in "
        "_stage_check() repeats the calls; but _stage_check() is itself called from more "
        f"than one place ({line(HERE, 'stage-one')}, {line(HERE, 'stage-two')}), and the "
        "same values come back in each call: a value kept in _stage_check() lives one call. "
        "Keep it where those calls meet (on an object they share, or for the request), and "
        "hand it down"
    )


def test_a_loop_whose_function_is_called_once_keeps_the_value_in_it(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        _stage_check([author.pk, author.pk])
    [finding] = of(rec, "duplicate-query")
    assert "itself called" not in finding.fix.text
    assert finding.fix.text.endswith("in _stage_check() (or for the request), and hand it down")


def _line_passes(author_ids):
    for _ in range(2):
        _counts_for(author_ids)  # line-pass


def test_a_dictionary_for_a_loop_whose_function_runs_again_is_kept_further_out(library):
    first, second = Author.objects.all()[:2]
    with djperf.capture() as rec:
        _line_passes([first.pk, second.pk])  # passes-one
        _line_passes([first.pk, second.pk])  # passes-two
    findings = of(rec, "duplicate-query")
    assert findings
    for finding in findings:
        assert f"called again by the loop at {line(HERE, 'line-pass')}" in finding.fix.text
        assert (
            "but _line_passes() is itself called from more than one place "
            f"({line(HERE, 'passes-one')}, {line(HERE, 'passes-two')})"
        ) in finding.fix.text
        assert "a dictionary kept in _line_passes() lives one call too" in finding.fix.text


class _Languages(Mapping):
    """As djangoproject.com's Sitemaps: a mapping whose keys are a query."""

    def __iter__(self):
        return iter(Author.objects.values_list("name", flat=True).order_by("name"))  # keys-query

    def __getitem__(self, key):
        return key

    def __len__(self):
        return 1


def _compared(languages, rounds):
    for _ in range(rounds):
        languages == {"x": "x"}  # noqa: B015  # compared-in-loop


def test_a_function_reached_through_code_not_the_projects_gets_no_code(library):
    # Mapping.__eq__ (the standard library's) iterates both sides: nothing
    # the loop gets once can be handed to __iter__ through it, as Django's
    # reverse() comparing a URL's default arguments.
    with djperf.capture() as rec:
        _compared(_Languages(), 3)
    [finding] = of(rec, "duplicate-query")
    assert str(finding.location) == line(HERE, "keys-query")
    assert finding.fix.text.startswith(
        "no code: __iter__() is not called by name from the code that repeats it: it is "
        f"reached from {line(HERE, 'compared-in-loop')} through Django's or a library's code"
    )


def _listed(languages, rounds):
    for _ in range(rounds):
        list(languages)  # listed-in-loop


def test_a_function_the_loops_own_line_calls_is_got_once_before_the_loop(library):
    # list() calls __iter__ with no code between: the loop's line can keep
    # the list.
    with djperf.capture() as rec:
        _listed(_Languages(), 3)
    [finding] = of(rec, "duplicate-query")
    assert finding.fix.text.startswith(
        f"__iter__() runs it on every call, and the loop at {line(HERE, 'listed-in-loop')}"
    )


def _count_on_save(sender, instance, **kwargs):
    Author.objects.count()  # receiver-count


def test_a_receiver_reached_through_a_save_is_not_called_unnamed(library):
    # Django's save() runs the receiver: a write of the project's, whose
    # values the loop gives, not a call djperf cannot pass anything through.
    from django.db.models.signals import pre_save

    pre_save.connect(_count_on_save, sender=Tag)
    try:
        with djperf.capture() as rec:
            for number in range(3):
                Tag(name=f"saved {number}").save()  # saving-loop
    finally:
        pre_save.disconnect(_count_on_save, sender=Tag)
    [finding] = of(rec, "duplicate-query")
    assert str(finding.location) == line(HERE, "receiver-count")
    assert "not called by name" not in finding.fix.text


def _check_stage(author_ids):
    _stage_check(author_ids)  # one-caller


def _two_stages(author_ids):
    _check_stage(author_ids)  # stage-apply
    _check_stage(author_ids)  # stage-consume


def test_a_loops_function_called_from_one_line_names_where_the_ways_part(library):
    # As oscar's is_satisfied(), always called by can_apply_condition() at
    # one line, which the apply and consume stages call: the stages tell
    # the calls apart.
    author = Author.objects.first()
    with djperf.capture() as rec:
        _two_stages([author.pk])
    [finding] = of(rec, "duplicate-query")
    assert (
        "but _stage_check() is itself called again, by way of more than one place "
        f"({line(HERE, 'stage-apply')}, {line(HERE, 'stage-consume')})"
    ) in finding.fix.text
