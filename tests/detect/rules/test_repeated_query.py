"""repeated-query: one statement per value, from one line."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django import template
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils.functional import cached_property

import djperf
from tests.helpers import line, of, third_party_package
from tests.testapp.models import Author, Book, Review, Tag

pytestmark = pytest.mark.django_db
HERE = __file__


# -- must flag ---------------------------------------------------------------------


def _book_titled(title):
    return Book.objects.get(title=title)  # per-call-lookup


def test_a_lookup_run_once_per_call_is_batched_in_the_calling_loop(library):
    # As oscar's Range.contains_product(product), asked once per basket line:
    # the batch cannot go inside the function, which sees one value per call.
    titles = ["B00", "B01", "B10", "B11", "B20"]
    with djperf.capture() as rec:
        books = []
        for title in titles:
            books.append(_book_titled(title))  # calling-loop
    assert len(books) == 5
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "per-call-lookup")
    assert finding.fix.text == (
        "Book.objects.filter(title__in=values)  # _book_titled() sends one query per call, "
        f"and the loop at {line(HERE, 'calling-loop')} in "
        "test_a_lookup_run_once_per_call_is_batched_in_the_calling_loop() repeats the calls: "
        "collect the values in that loop, run this once before it, and hand the results down"
    )


def _price_of(title):
    return _book_titled(title)  # one-call-between


def _prices(titles):
    found = []
    for title in titles:
        found.append(_price_of(title))  # loop-two-out
    return found


def test_a_lookup_two_calls_from_its_loop_names_that_loop(library):
    with djperf.capture() as rec:
        _prices(["B00", "B01", "B10", "B11", "B20"])
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "per-call-lookup")
    assert finding.fix.text == (
        "Book.objects.filter(title__in=values)  # _book_titled() sends one query per call, "
        f"and the loop at {line(HERE, 'loop-two-out')} in _prices(), 2 calls out from "
        f"{line(HERE, 'per-call-lookup')} (through _price_of() at "
        f"{line(HERE, 'one-call-between')}) repeats the calls: collect the values in that "
        "loop, run this once before it, and hand the results down"
    )


def test_a_relation_read_through_its_own_through_model_per_object(db):
    # django-taggit's shape: obj.tags read by a query of the manager's own,
    # joined through the TaggedItem model, one per object.
    from tests.testapp.models import Album, Label, Labelling

    labels = [Label.objects.create(name=f"l{i}") for i in range(2)]
    for i in range(5):
        album = Album.objects.create(name=f"a{i}")
        for label in labels:
            Labelling.objects.create(album=album, label=label)
    with djperf.capture() as rec:
        names = [sorted(album.label_names()) for album in Album.objects.all()]
    assert names == [["l0", "l1"]] * 5
    [finding] = of(rec, "repeated-query")
    assert finding.fix.method == "prefetch_related"
    assert finding.fix.lookup == "labels"
    assert finding.fix.text == (
        ".prefetch_related('labels') on the queryset of the objects whose labels are read "
        "one object at a time (Album)"
    )
    # What the fix says does it: one query for the labels of every album.
    with djperf.capture() as fixed:
        prefetched = [
            sorted(label.name for label in album.labels.all())
            for album in Album.objects.prefetch_related("labels")
        ]
    assert prefetched == names
    assert len(fixed.queries) == 2


def test_the_relation_is_found_behind_other_joined_conditions(db):
    # django-taggit's WHERE compares the content type's columns first, then
    # the TaggedItem's object_id: the intermediate model is still found.
    from djperf.detect.rules.repeated_query import _batch_fix
    from tests.testapp.models import Label

    fingerprint = (
        "SELECT testapp_label.id, testapp_label.name FROM testapp_label "
        "INNER JOIN testapp_labelling ON (testapp_label.id = testapp_labelling.label_id) "
        "INNER JOIN testapp_album ON (testapp_labelling.album_id = testapp_album.id) "
        "WHERE (testapp_album.name = # AND testapp_labelling.album_id = #)"
    )
    fix = _batch_fix(Label, fingerprint)
    assert (fix.method, fix.lookup) == ("prefetch_related", "labels")


def test_get_in_a_loop(library):
    ids = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec:
        for pk in ids:
            Book.objects.get(pk=pk)  # get-in-loop
    [finding] = of(rec, "repeated-query")
    assert (finding.model, finding.count) == ("testapp.Book", 6)
    assert finding.fix.method == "in_bulk"
    assert finding.fix.text == "Book.objects.in_bulk(ids)"
    assert str(finding.location) == line(HERE, "get-in-loop")


def test_filter_by_another_column_in_a_loop(library):
    # A unique column: its first row is its only row, filter(__in) reads no more.
    from tests.testapp.models import Bio

    author_ids = [*Author.objects.values_list("pk", flat=True), 998, 999]
    with djperf.capture() as rec:
        for author_id in author_ids:
            Bio.objects.filter(author_id=author_id).first()
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == "Bio.objects.filter(author_id__in=values)"


def test_the_first_row_per_value_of_a_column_that_is_not_unique(library):
    # filter(name__in=...) would read every row of each name, not the first.
    with djperf.capture() as rec:
        for name in ("A0", "A1", "A2", "nobody", "x", "y"):
            Author.objects.filter(name=name).first()
    [finding] = of(rec, "repeated-query")
    assert finding.fix.method == "first_per_value"
    # (first() orders by the primary key when the queryset has no ordering.)
    assert finding.fix.text.startswith(
        "the first row per name in one query: a Window(RowNumber(), partition_by='name', "
        "order_by=['id']) filtered to row 1"
    )


def test_the_column_that_takes_the_values_is_found_after_other_conditions(library):
    pks = [*Author.objects.values_list("pk", flat=True), 998, 999]
    with djperf.capture() as rec:
        for pk in pks:
            list(Book.objects.filter(publisher__isnull=True, author_id=pk))
        for pk in pks:
            Book.objects.filter(publisher__isnull=True, author_id=pk, title="B").order_by(
                "-pk"
            ).first()
    texts = sorted(f.fix.text for f in of(rec, "repeated-query"))
    assert texts[0] == "Book.objects.filter(author_id__in=values, publisher__isnull=True)"
    # Two columns take values: the SQL does not say which vary; its
    # ordering it does say.
    assert texts[1].startswith(
        "the first row per value in one query: a Window(RowNumber(), partition_by="
        "[<those of 'author_id', 'title' that vary>], order_by=['-id']) filtered to row 1"
    )


def test_an_aggregate_per_range_gets_one_aggregate_with_a_term_per_range(library):
    # As oscar's dashboard: the revenue of each two-hour slice of a day,
    # one SUM per slice. No IN list matches a range.
    from django.db.models import Sum

    with djperf.capture() as rec:
        for low in range(0, 10, 2):
            Review.objects.filter(rating__gte=low, rating__lt=low + 2).aggregate(Sum("rating"))
    [finding] = of(rec, "repeated-query")
    assert finding.fix.method == "aggregate_per_range"
    assert finding.fix.text == (
        "no IN list matches a range: each query aggregates one range of rating (rating__gte, "
        "rating__lt). One query for every range: one .aggregate() with a term per range, "
        "Sum('rating', filter=Q(rating__gte=start, rating__lt=end)) each, or, for calendar "
        "slices, .annotate(slice=Trunc('rating', ...)).values('slice') with the aggregate per "
        "slice"
    )


def test_rows_per_range_are_read_once_over_the_span(library):
    with djperf.capture() as rec:
        for low in range(0, 10, 2):
            list(Review.objects.filter(rating__gt=low, rating__lte=low + 2))
    [finding] = of(rec, "repeated-query")
    assert finding.fix.method == "one_span"
    assert "Review.objects.filter(rating__gt=<the first start>, rating__lte=<the last end>)" in (
        finding.fix.text
    )


def test_a_range_beside_a_column_that_varies_is_no_range_fix(library):
    # The book changes from pass to pass, the range does not: an IN list
    # of books is the batch.
    books = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec:
        for pk in books:
            list(Review.objects.filter(book_id=pk, rating__gte=1, rating__lt=5))
    [finding] = of(rec, "repeated-query")
    assert finding.fix.method == "in_bulk"
    assert "book_id__in=values" in finding.fix.text


def test_the_values_are_in_the_column_the_line_did_not_give_a_constant(library):
    # author_id comes first in the WHERE clause (Django sorts the keyword
    # arguments), but the loop varies the title.
    titles = [f"title {number}" for number in range(6)]
    with djperf.capture() as rec:
        for title in titles:
            list(Book.objects.filter(title=title, author_id=1))
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == "Book.objects.filter(title__in=values, author_id=1)"


def test_the_batched_query_keeps_the_loops_select_related(library):
    pks = [*Book.objects.values_list("pk", flat=True), 998, 999]
    with djperf.capture() as rec:
        for pk in pks:
            list(Review.objects.select_related("book").filter(book_id=pk))
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == ('Review.objects.select_related("book").filter(book_id__in=values)')


def _published(books):
    return books.exclude(title="")


def test_a_queryset_the_loop_starts_from_is_kept_in_the_batch(library):
    # The loop tests each book against a queryset of its own: a batch on
    # Book.objects would drop that queryset's filter.
    shelf = _published(Book.objects.all())
    books = list(Book.objects.all())
    with djperf.capture() as rec:
        for book in books:
            shelf.filter(pk=book.pk).exists()  # on-the-shelf
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == (
        "present = set(shelf.filter(pk__in=values).values_list('id', flat=True))"
        "  # then test: value in present"
    )
    authors = [*Author.objects.values_list("pk", flat=True), 998, 999]
    with djperf.capture() as rec:
        for pk in authors:
            list(shelf.filter(author=pk).only("title"))
        for pk in authors:
            shelf.filter(author_id=pk).order_by("-title").first()
    texts = sorted(f.fix.text for f in of(rec, "repeated-query"))
    assert texts[0] == (
        """for row in shelf.filter(author__in=values).only("title"): """
        "rows[row.author_id].append(row)  # rows = defaultdict(list) before it; "
        "then read rows[value]"
    )
    # The first row per value is another query: not rewritten from the line.
    assert texts[1].startswith("the first row per value in one query")


def test_the_constants_of_the_line_that_built_the_queryset_are_kept(library):
    pks = [*Author.objects.values_list("pk", flat=True), 998, 999]
    with djperf.capture() as rec:
        for pk in pks:
            books = Book.objects.filter(author_id=pk, title__startswith="B")
            list(books)  # evaluated-apart
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == ('Book.objects.filter(author_id__in=values, title__startswith="B")')


def test_an_exists_through_a_relation_the_sql_cannot_name_is_batched_from_the_line(library):
    tags = [*Tag.objects.values_list("pk", flat=True), 997, 998, 999]
    with djperf.capture() as rec:
        for tag in tags:
            Review.objects.filter(book__tags=tag).exists()  # through-tags
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == (
        "present = set(Review.objects.filter(book__tags__in=values)"
        ".values_list('book__tags', flat=True))  # then test: value in present"
    )


def test_a_queryset_written_across_lines_keeps_its_select_related(library):
    pks = [*Book.objects.values_list("pk", flat=True), 998, 999]
    with djperf.capture() as rec:
        for pk in pks:
            # fmt: off
            [  # across-lines
                review.rating
                for review in Review.objects.select_related(
                    "book"
                ).filter(book_id=pk)
            ]
            # fmt: on
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == 'Review.objects.select_related("book").filter(book_id__in=values)'


def test_the_loops_other_filters_stay_in_the_batched_query(library):
    pks = [*Author.objects.values_list("pk", flat=True), 998, 999]
    with djperf.capture() as rec:
        for pk in pks:
            list(Book.objects.filter(author_id=pk, title__startswith="B"))
    # The values the loop's line wrote, when they mean the same anywhere.
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == ('Book.objects.filter(author_id__in=values, title__startswith="B")')
    with djperf.capture() as rec:
        for pk in pks:
            list(Review.objects.filter(book_id=pk, rating__gt=0))
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == "Review.objects.filter(book_id__in=values, rating__gt=0)"


def test_a_filter_value_the_loop_computes_is_left_out(library):
    pks = [*Author.objects.values_list("pk", flat=True), 998, 999]
    prefix, least = "B", 0
    with djperf.capture() as rec:
        for pk in pks:
            list(Book.objects.filter(author_id=pk, title__startswith=prefix))
            list(Review.objects.filter(book_id=pk, rating__gt=least))
    texts = sorted(finding.fix.text for finding in of(rec, "repeated-query"))
    assert texts == [
        "Book.objects.filter(author_id__in=values, <the loop's filter on title>)",
        "Review.objects.filter(book_id__in=values, rating__gt=...)",
    ]


def test_repeated_query_names_the_loop_queryset(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():  # loop-origin
            Author.objects.get(pk=book.author_id)
    [finding] = of(rec, "repeated-query")
    assert str(finding.origin) == line(HERE, "loop-origin")


def test_aget_in_an_async_for(library):
    async def view():
        async with djperf.capture() as rec:
            async for book in Book.objects.all():
                await Author.objects.aget(pk=book.author_id)  # aget-in-loop
        return rec

    rec = async_to_sync(view)()
    [finding] = of(rec, "repeated-query")
    assert finding.count == 6
    assert str(finding.location) == line(HERE, "aget-in-loop")


def test_a_count_per_row_is_counted_in_the_parents_query(library):
    with djperf.capture() as rec:
        counts = [book.chapter_set.count() for book in Book.objects.all()]
    assert counts == [2] * 6
    [finding] = of(rec, "repeated-query")
    assert finding.fix.method == "annotate"
    assert finding.fix.text.startswith("Book.objects.annotate(chapter_count=Count('chapter'))")


def test_a_count_per_row_asked_again_for_the_same_objects_says_an_annotation_is_not_enough(
    library,
):
    # oscar's available(): offer.combinations.count() per basket line and
    # applied offer, the same two offers counted again and again.
    books = list(Book.objects.order_by("pk")[:2])
    with djperf.capture() as rec:
        for _ in range(4):
            for book in books:
                book.chapter_set.count()  # counted-again
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == (
        "Book.objects.annotate(chapter_count=Count('chapter'))  # then read .chapter_count; "
        "but the 8 queries asked for only 2 values, each again: the same Book objects counted "
        "again. The annotation serves only Book objects loaded from a queryset that has it, "
        "so every place that loads the ones read here needs it; keeping each result where the "
        "calls meet (a dictionary by key for the request, or a cached_property on Book when "
        "one object is read again) serves them wherever they come from"
    )


class _TitleShelf:
    def __init__(self, prefix):
        self.prefix = prefix

    @property
    def books(self):
        return Book.objects.filter(title__startswith=self.prefix)

    def holds(self, book_id):
        return self.books.filter(id=book_id).exists()  # holds-query


class _ShelfRule:
    def __init__(self, shelf):
        self.shelf = shelf

    def applies(self, book_id):
        return self.shelf.holds(book_id)  # rule-holds

    def satisfied(self, ids):
        found = []
        for book_id in ids:
            found.append(self.applies(book_id))  # rule-loop
        return found

    def checked_by_hand(self, ids):
        shelf = self.shelf
        found = []
        for book_id in ids:
            found.append(shelf.holds(book_id))  # local-loop
        return found


def test_batched_code_on_self_is_written_as_the_loops_function_reaches_that_object(library):
    # oscar's Condition.is_satisfied() looping over lines, reaching
    # Range.contains_product() through self.range: the batch runs in
    # is_satisfied(), where the range is self.range, not self.
    ids = list(Book.objects.values_list("pk", flat=True))
    rule = _ShelfRule(_TitleShelf("B"))
    with djperf.capture() as rec:
        rule.satisfied(ids)
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.startswith(
        "present = set(self.shelf.books.filter(id__in=values).values_list('id', flat=True))  "
        "# self.shelf: the object holds() runs on, from satisfied()  # then test: value in "
        f"present  # holds() sends one query per call, and the loop at {line(HERE, 'rule-loop')}"
    )


def test_batched_code_on_self_reached_through_a_local_says_what_self_is(library):
    ids = list(Book.objects.values_list("pk", flat=True))
    rule = _ShelfRule(_TitleShelf("B"))
    with djperf.capture() as rec:
        rule.checked_by_hand(ids)
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.startswith(
        "present = set(self.books.filter(id__in=values).values_list('id', flat=True))  # self "
        "here is the object holds() runs on: in checked_by_hand() reach it as the calls "
        "between do  # then test: value in present"
    )


def test_a_receivers_per_save_test_asked_again_keeps_its_no_code_text_whole(library):
    # oscar's search index prepare() per Product save: no code, and the
    # values asked again must not splice an annotation clause into it.
    from django.db.models.signals import post_save

    def reviewed(sender, instance, **kwargs):
        instance.reviews.exists()  # per-save-test

    books = list(Book.objects.order_by("pk")[:3])
    post_save.connect(reviewed, sender=Book)
    try:
        with djperf.capture() as rec:
            for _ in range(2):
                for book in books:
                    book.save()
    finally:
        post_save.disconnect(reviewed, sender=Book)
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.startswith("no code for this line: ")
    assert "counted again" not in finding.fix.text


def test_an_existence_test_per_row_is_an_exists_annotation(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.reviews.exists()
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.startswith(
        "Book.objects.annotate(has_reviews=Exists(Review.objects.filter(book=OuterRef('pk'))))"
    )


def test_an_annotation_never_takes_the_name_of_an_attribute_of_the_model(library):
    from tests.testapp.models import Publisher

    Publisher.objects.bulk_create([Publisher(name=f"P{n}") for n in range(2, 5)])
    with djperf.capture() as rec:
        for publisher in Publisher.objects.all():
            publisher.book_set.exists()
    [finding] = of(rec, "repeated-query")
    # Publisher.has_book is a property: annotate(has_book=...) would fail.
    assert finding.fix.text == (
        "Publisher.objects.annotate(annotated_has_book=Exists(Book.objects.filter("
        "publisher=OuterRef('pk'))))  # then read .annotated_has_book"
    )


def test_a_many_to_many_count_or_test_per_row_is_annotated_by_its_name(library):
    books = list(Book.objects.all())
    tags = list(Tag.objects.all()) * 2
    with djperf.capture() as rec:
        for book in books:
            book.tags.count()
        for book in books:
            book.tags.exists()
        for tag in tags:
            tag.books.count()
    texts = sorted(f.fix.text for f in of(rec, "repeated-query"))
    assert texts == [
        "Book.objects.annotate(has_tags=Exists(Book.tags.through.objects.filter("
        "book=OuterRef('pk'))))  # then read .has_tags",
        "Book.objects.annotate(tags_count=Count('tags'))  # then read .tags_count",
        # (Each tag counted twice: the same objects asked again.)
        "Tag.objects.annotate(books_count=Count('books'))  # then read .books_count; but the 6 "
        "queries asked for only 3 values, each again: the same Tag objects counted again. The "
        "annotation serves only Tag objects loaded from a queryset that has it, so every place "
        "that loads the ones read here needs it; keeping each result where the calls meet (a "
        "dictionary by key for the request, or a cached_property on Tag when one object is "
        "read again) serves them wherever they come from",
    ]


def test_a_filter_on_a_joined_column_names_the_path(library):
    names = [author.name for author in Author.objects.all()] * 2
    with djperf.capture() as rec:
        for name in names:
            Book.objects.filter(author__name=name).first()
        for name in names:
            Book.objects.filter(author__name=name).count()
    texts = sorted(f.fix.text for f in of(rec, "repeated-query"))
    assert texts == [
        "Book.objects.filter(author__name__in=values)",
        "Book.objects.filter(author__name__in=values).values('author__name')"
        ".annotate(count=Count('pk'))  # one count per value",
    ]


def test_a_filtered_count_per_row_keeps_its_filter(library):

    with djperf.capture() as rec:
        for book in Book.objects.all():
            Review.objects.filter(book=book, rating__gte=1).count()
    [finding] = of(rec, "repeated-query")
    assert "Count('reviews', filter=Q(reviews__rating__gte=1))" in finding.fix.text
    least = 1
    with djperf.capture() as rec:
        for book in Book.objects.all():
            Review.objects.filter(book=book, rating__gte=least).count()
            Review.objects.filter(book=book, rating__gte=1).exists()
    texts = sorted(f.fix.text for f in of(rec, "repeated-query"))
    assert "Count('reviews', filter=Q(reviews__rating__gte=...))" in texts[1]
    assert "Exists(Review.objects.filter(book=OuterRef('pk'), rating__gte=1))" in texts[0]


def test_values_of_a_many_to_many_per_row_are_prefetched(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            list(book.tags.values_list("name", flat=True))
        for tag in Tag.objects.all():
            for _ in range(5):
                list(tag.books.values_list("title", flat=True))
    texts = sorted(f.fix.text for f in of(rec, "repeated-query"))
    assert texts == [
        "Book.objects.prefetch_related('tags')  # then read obj.tags.all()",
        "Tag.objects.prefetch_related('books')  # then read obj.books.all()",
    ]


def test_an_auto_created_through_table_is_named_through_its_field(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            list(Book.tags.through.objects.filter(book=book))
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == "Book.tags.through.objects.filter(book_id__in=values)"


def test_a_lock_per_row_is_one_lock_query(library):
    if not connection.features.has_select_for_update:
        pytest.skip(f"{connection.vendor} has no SELECT ... FOR UPDATE")
    ids = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec, transaction.atomic():
        for pk in ids:
            Book.objects.select_for_update().get(pk=pk)
    [finding] = of(rec, "repeated-query")
    assert finding.fix.method == "select_for_update"
    assert finding.fix.text.startswith("Book.objects.select_for_update().filter(pk__in=ids)")


def test_a_get_per_call_of_a_test_loop_is_the_tests(library):
    from tests import as_tests

    pks = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec:
        as_tests.call_each(lambda pk: Book.objects.get(pk=pk), pks)
    [finding] = of(rec, "repeated-query")
    assert finding.in_tests and finding.severity == "info"
    assert str(finding.location) == line("tests/as_tests.py", "the-test-loop")
    assert finding.count == 6


# -- must not flag -----------------------------------------------------------------


def test_repeated_not_counts_already_annotated(library):
    from django.db.models import Count

    with djperf.capture() as rec:
        books = Book.objects.annotate(chapter_count=Count("chapter"))
        counts = [book.chapter_count for book in books]
    assert counts == [2] * 6
    assert rec.findings == []


def test_repeated_not_values_read_from_a_prefetch(library):
    with djperf.capture() as rec:
        for book in Book.objects.prefetch_related("tags"):
            [tag.name for tag in book.tags.all()]
    assert rec.findings == []


def test_repeated_not_one_lock_query(library):
    ids = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec, transaction.atomic():
        list(Book.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    assert rec.findings == []


def test_repeated_not_pages_of_a_paginator(library):
    from django.core.paginator import Paginator

    with djperf.capture() as rec:
        pages = Paginator(Book.objects.order_by("pk"), 1)
        titles = [book.title for number in pages.page_range for book in pages.page(number)]
    assert len(titles) == 6
    assert of(rec, "repeated-query") == []


def test_repeated_not_keyset_batches(library):
    with djperf.capture() as rec:
        last, seen = 0, 0
        while batch := list(Book.objects.filter(pk__gt=last).order_by("pk")[:1]):
            last, seen = batch[-1].pk, seen + 1
    assert seen == 6
    assert of(rec, "repeated-query") == []


def test_repeated_not_get_or_create(library):
    with djperf.capture() as rec:
        for i in range(6):
            Tag.objects.get_or_create(name=f"t{i % 3}")
    assert of(rec, "repeated-query") == []


def test_repeated_not_one_count_per_parent_below_the_threshold(library):
    with djperf.capture() as rec:
        [author.books.count() for author in Author.objects.all()]
    assert of(rec, "repeated-query") == []


def test_repeated_not_below_the_threshold(library):
    with djperf.capture() as rec:
        for pk in list(Book.objects.values_list("pk", flat=True))[:4]:
            Book.objects.get(pk=pk)
    assert of(rec, "repeated-query") == []


def test_repeated_not_when_the_values_are_the_same(library):
    book = Book.objects.first()
    with djperf.capture() as rec:
        for _ in range(6):
            Book.objects.get(pk=book.pk)
    assert of(rec, "repeated-query") == []


def test_repeated_not_from_different_lines(library):
    pks = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec:
        Book.objects.get(pk=pks[0])
        Book.objects.get(pk=pks[1])
        Book.objects.get(pk=pks[2])
        Book.objects.get(pk=pks[3])
        Book.objects.get(pk=pks[4])
    assert of(rec, "repeated-query") == []


def test_repeated_not_the_queries_of_an_n_plus_one(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.author  # noqa: B018
    assert of(rec, "repeated-query") == []


def test_repeated_not_savepoints(library):
    with djperf.capture() as rec:
        for i in range(8):
            with transaction.atomic():
                Tag.objects.create(name=f"x{i}")
    assert of(rec, "repeated-query") == []


def test_not_a_lookup_per_request(library, client, settings):
    settings.ROOT_URLCONF = "tests.testapp.urls"
    pks = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec:
        for pk in pks:
            assert client.get(f"/books/{pk}/").status_code == 200
    assert len({q.request for q in rec.queries}) == 6
    assert of(rec, "repeated-query") == []


def test_a_receiver_querying_per_save_gets_no_code_and_why(library):
    from django.db.models.signals import post_save

    found = []

    def look_up_title(sender, instance, **kwargs):
        found.append(Book.objects.get(pk=instance.pk))  # receiver-lookup

    books = list(Book.objects.all())
    post_save.connect(look_up_title, sender=Book)
    try:
        with djperf.capture() as rec:
            for book in books:
                book.save(update_fields=["title"])  # receiver-saves
    finally:
        post_save.disconnect(look_up_title, sender=Book)
    assert len(found) == 6
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.startswith(
        "no code for this line: look_up_title() runs inside each write or signal at "
        f"{line(HERE, 'receiver-saves')} (a signal receiver, or a save() override), once per "
        "write, and the loop at "
    )


class _Row:
    def __init__(self, title):
        self.title = title

    def book(self):
        return Book.objects.get(title=self.title)  # row-lookup


def test_a_lookup_repeated_by_a_template_loop_is_the_views_to_batch(library, tmp_path):
    from django.template import Context, Engine

    (tmp_path / "rows.html").write_text(
        "<ul>\n{% for row in rows %}\n<li>{{ row.book.pk }}</li>\n{% endfor %}\n</ul>\n"
    )
    template = Engine(dirs=[str(tmp_path)]).get_template("rows.html")
    rows = [_Row(title) for title in ["B00", "B01", "B10", "B11", "B20"]]
    with djperf.capture() as rec:
        template.render(Context({"rows": rows}))
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "row-lookup")
    # A template cannot gather the values: the view must.
    assert finding.fix.text.startswith(
        "no code for this line: book() sends one query per call, and the loop at "
        f"{tmp_path / 'rows.html'}:3 (a template's) repeats the calls. A template cannot "
        "gather the values and query once: the view must"
    )


def test_a_method_reading_its_objects_own_relation_by_hand_reads_the_manager(library, tmp_path):
    from django.template import Context, Engine

    from tests.testapp import models

    (tmp_path / "books.html").write_text(
        "{% for book in books %}{{ book.ratings }}{% endfor %}\n"
        "{% for book in books %}{{ book.ratings }}{% endfor %}\n"
    )
    template = Engine(dirs=[str(tmp_path)]).get_template("books.html")
    with djperf.capture() as rec:
        template.render(Context({"books": list(Book.objects.all())}))
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(models.__file__, "by-hand")
    assert finding.fix.method == "prefetch_related"
    # The by-hand query joins each review's book: objects not prefetched
    # keep that query, not .all(), which would load each book again.
    assert finding.fix.text == (
        "ratings() reads each Book's own reviews by hand, one query per object: prefetch it "
        "where the Book objects are loaded (for a template's loop, on the queryset the view "
        "hands it): .prefetch_related(Prefetch('reviews', "
        "queryset=Review.objects.select_related('book'), to_attr='prefetched_reviews'))  "
        "(from django.db.models import Prefetch); and in ratings() read getattr(self, "
        "'prefetched_reviews', None), with the query as written when it is None: Book "
        "objects loaded without that prefetch keep the query's own shape, which "
        "self.reviews.all() would drop"
    )
    # The fix as written: one query for the reviews, none per book.
    from django.db.models import Prefetch

    with CaptureQueriesContext(connection) as sent:
        books = list(
            Book.objects.prefetch_related(
                Prefetch(
                    "reviews",
                    queryset=Review.objects.select_related("book"),
                    to_attr="prefetched_reviews",
                )
            )
        )
        ratings = [[r.rating for r in b.prefetched_reviews if r.book.pk == b.pk] for b in books]
    assert len(sent) == 2
    assert ratings == [b.ratings for b in books]


def test_not_the_own_relation_for_another_objects_rows(library):
    def ratings_of(book):
        return [r.rating for r in Review.objects.filter(book_id=book.id)]  # not-self

    with djperf.capture() as rec:
        for book in Book.objects.all():
            ratings_of(book)
    [finding] = of(rec, "repeated-query")
    assert "self.reviews" not in finding.fix.text
    assert finding.fix.method != "prefetch_related" or "Prefetch(" not in finding.fix.text


def test_a_lookup_from_separate_places_of_a_page_is_the_views_to_batch(library, tmp_path):
    from django.template import Context, Engine

    (tmp_path / "page.html").write_text(
        "".join(f"<p>{{{{ rows.{i}.book.pk }}}}</p>\n" for i in range(5))
    )
    template = Engine(dirs=[str(tmp_path)]).get_template("page.html")
    rows = [_Row(title) for title in ["B00", "B01", "B10", "B11", "B20"]]
    with djperf.capture() as rec:
        template.render(Context({"rows": rows}))
    [finding] = of(rec, "repeated-query")
    # No loop anywhere: five places of one page, each with its own value.
    page = tmp_path / "page.html"
    assert finding.fix.text == (
        "no code for this line: book() sends one query per call, and no loop repeats the "
        f"calls: they come from separate places of the page ({page}:1, {page}:2, {page}:3, "
        f"{page}:4 ...). One query for all the values fits only where they are all known: "
        "the view, before rendering (Book.objects.filter(title__in=values)), handing each "
        "place its result, which the place then reads instead of calling book()"
    )


# A template library of this module's (Engine(libraries=...)): a filter
# given its value as a literal, as djangoproject.com's release tag is.
register = template.Library()


@register.filter
def titled(title):
    return Book.objects.get(title=title).pk  # titled-lookup


def test_values_written_in_the_template_say_the_view_does_not_know_them(library, tmp_path):
    from django.template import Context, Engine

    (tmp_path / "releases.html").write_text(
        "{% load books %}"
        + "".join(f"<p>{{{{ '{t}'|titled }}}}</p>\n" for t in ["B00", "B01", "B10", "B11", "B20"])
    )
    engine = Engine(dirs=[str(tmp_path)], libraries={"books": __name__})
    with djperf.capture() as rec:
        engine.get_template("releases.html").render(Context({}))
    [finding] = of(rec, "repeated-query")
    page = tmp_path / "releases.html"
    assert finding.fix.text == (
        "no code for this line: titled() sends one query per call, and no loop repeats the "
        f"calls: they come from separate places of the page ({page}:1, {page}:2, {page}:3, "
        f"{page}:4 ...), each with its value written in the template, so the view does not "
        "know them. One query for all of them fits only in the view, before rendering: list "
        "those values there as well and ask for them at once "
        "(Book.objects.filter(title__in=values)), and hand the template the results as one "
        "variable per place, which the place reads instead of calling titled() (a template "
        "cannot look a dictionary up by a value such as '5.2': its dots read attributes and "
        "keys that are names, so a dictionary needs a filter of your own)"
    )


def _book_again(book):
    return Book.objects.get(pk=book.pk)  # helper-of-receiver


def _announce(book):
    from django.db.models.signals import post_save

    post_save.send(sender=Book, instance=book, created=False)  # hand-sent


def test_a_receiver_of_a_hand_sent_signal_one_call_deeper_gets_no_code(library):
    from django.db.models.signals import post_save

    found = []

    def on_saved(sender, instance, **kwargs):
        found.append(_book_again(instance))  # receiver-calls-helper

    books = list(Book.objects.all())
    post_save.connect(on_saved, sender=Book)
    try:
        with djperf.capture() as rec:
            for book in books:
                _announce(book)
    finally:
        post_save.disconnect(on_saved, sender=Book)
    assert len(found) == 6
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "helper-of-receiver")
    # The receiver, not the helper it calls, runs once per signal sent.
    assert finding.fix.text.startswith(
        f"no code for this line: on_saved() runs inside each write or signal at "
        f"{line(HERE, 'hand-sent')} (a signal receiver, or a save() override), once per write"
    )


def _stored(book):
    keep = book.save
    keep()  # saved-without-saying


def test_a_receiver_under_a_save_whose_line_does_not_say_save_gets_no_code(library):
    # As treebeard's add_child(): the save runs inside a call whose line
    # names no save. The stack walk saw the signal's send() frame.
    from django.db.models.signals import post_save

    found = []

    def on_saved(sender, instance, **kwargs):
        found.append(Book.objects.get(pk=instance.pk))  # receiver-unsaid

    books = list(Book.objects.all())
    post_save.connect(on_saved, sender=Book)
    try:
        with djperf.capture() as rec:
            for book in books:
                _stored(book)
    finally:
        post_save.disconnect(on_saved, sender=Book)
    assert len(found) == 6
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "receiver-unsaid")
    assert finding.fix.text.startswith(
        f"no code for this line: on_saved() runs inside each write or signal at "
        f"{line(HERE, 'saved-without-saying')} (a signal receiver, or a save() override), "
        "once per write"
    )


def test_a_receiver_counting_per_save_gets_no_annotation(library):
    # As oscar's stock alerts counting a product's alerts on each save: the
    # receiver holds one object, the one written; no queryset to annotate.
    from django.db.models.signals import post_save

    counts = []

    def count_reviews(sender, instance, **kwargs):
        counts.append(Review.objects.filter(book_id=instance.book_id).count())  # per-save-count

    reviews = list(Review.objects.all())
    assert len({review.book_id for review in reviews}) >= 2
    post_save.connect(count_reviews, sender=Review)
    try:
        with djperf.capture() as rec:
            for review in reviews:
                review.save()  # counted-saves
    finally:
        post_save.disconnect(count_reviews, sender=Review)
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "per-save-count")
    assert finding.fix.text.startswith(
        f"no code for this line: count_reviews() runs inside each write or signal at "
        f"{line(HERE, 'counted-saves')} (a signal receiver, or a save() override), once per "
        "write, with the object written: no queryset there holds the others to batch on "
        "(Book.objects.annotate("
    )
    assert "One query for all of them fits only where the writes repeat (the loop at" in (
        finding.fix.text
    )


def test_a_receiver_counting_in_a_loop_of_its_own_keeps_the_annotation(library):
    from django.db.models.signals import post_save

    counts = []

    def count_all(sender, instance, **kwargs):
        for book in Book.objects.all():
            counts.append(Review.objects.filter(book_id=book.pk).count())

    post_save.connect(count_all, sender=Review)
    try:
        review = Review.objects.first()
        with djperf.capture() as rec:
            review.save()
    finally:
        post_save.disconnect(count_all, sender=Review)
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.startswith("Book.objects.annotate(")


def _ratings(book):
    reviews = Review.objects.filter(book_id=book.pk)
    total = reviews.count()  # counted-first
    ratings = []
    for review in reviews:  # then-iterated
        ratings.append(review.rating)
    return total, ratings


def _ratings_when_asked(book, asked):
    reviews = Review.objects.filter(book_id=book.pk)
    total = reviews.count()
    ratings = []
    if asked:
        for review in reviews:
            ratings.append(review.rating)
    return total, ratings


def test_a_count_of_rows_the_function_loads_anyway_is_their_len(library):
    # As oscar's stock alerts: alerts.count(), then for alert in alerts.
    with djperf.capture() as rec:
        for book in Book.objects.all():
            _ratings(book)
    [finding] = [
        f for f in of(rec, "repeated-query") if str(f.location) == line(HERE, "counted-first")
    ]
    loop = line(HERE, "then-iterated").rsplit(":", 1)[1]
    assert finding.fix.method == "len"
    assert finding.fix.text == (
        f"reviews is loaded by the loop at line {loop} anyway: "
        "len(reviews) instead of reviews.count() loads its rows once, and the loop reads them "
        "from the queryset's cache: no COUNT query"
    )


def test_a_count_whose_rows_are_loaded_only_sometimes_keeps_the_batch(library):
    # The loop is under an if: len() would load rows the count alone did not.
    with djperf.capture() as rec:
        for book in Book.objects.all():
            _ratings_when_asked(book, asked=False)  # counted-only
    [finding] = of(rec, "repeated-query")
    assert finding.fix.method != "len"
    assert "len(" not in finding.fix.text


def test_a_re_read_after_each_write_gets_no_batch_before_the_loop(library):
    # As a stock allocation: update() the row, then refresh_from_db() it,
    # once per order line. A read before the loop would read old values.
    from django.db.models import F

    reviews = list(Review.objects.all()[:5])
    with djperf.capture() as rec:
        for review in reviews:
            Review.objects.filter(pk=review.pk).update(rating=F("rating") + 1)  # per-row-write
            review.refresh_from_db(fields=["rating"])
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.startswith(
        "no code: each of these reads comes right after a write of the same table (at "
        f"{line(HERE, 'per-row-write')}) and reads what it changed"
    )


def test_a_search_librarys_per_result_loads_name_its_batch(library, settings, tmp_path):
    # django-haystack's SearchResult.object loads one object per result;
    # SearchQuerySet.load_all() loads them together.
    source = (
        "from tests.testapp.models import Book\n"
        "def result_object(pk):\n"
        "    return Book.objects.get(pk=pk)\n"
    )
    pks = list(Book.objects.values_list("pk", flat=True))
    with (
        third_party_package(settings, tmp_path, "haystack", source) as haystack,
        djperf.capture() as rec,
    ):
        for pk in pks:
            haystack.result_object(pk)
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.endswith(
        "; for search results read one .object at a time, .load_all() on the SearchQuerySet "
        "the view makes loads every result's object in one query per model"
    )


def _free_title(number):
    while True:
        title = f"free {number}"
        if not Book.objects.filter(title=title).exists():  # probe
            return title
        number += 100


def test_a_lookup_in_a_loop_of_its_own_run_once_per_call_names_the_calling_loop(library):
    # As oscar's get_unused_code(): a `while True` drawing a code until a
    # free one, each call finding one at once, called per voucher.
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(5):
            Book.objects.create(title=_free_title(number), author=author)  # per-book
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "probe")
    # Each call draws until a free one: the calling loop's passes need
    # candidates made up front, not the values "collected" in it.
    assert (
        f"And the loop at {line(HERE, 'per-book')} in "
        "test_a_lookup_in_a_loop_of_its_own_run_once_per_call_names_the_calling_loop() "
        "repeats the calls: make the candidates for all of its passes at once"
    ) in finding.fix.text


def _titled(title):
    return Book.objects.filter(title=title).exists()  # contains-check


def _satisfied(titles):
    return all([_titled(title) for title in titles])  # satisfied-loop


def _offer_stages(titles):
    _satisfied(titles)  # stage-is-satisfied
    _satisfied(titles)  # stage-apply
    _satisfied(titles)  # stage-consume


def test_values_asked_again_by_separate_calls_of_the_loops_function_say_so(library):
    # As oscar's contains_product(): is_satisfied() loops over the lines,
    # and each stage of the offer runs is_satisfied() again with the same
    # products: one batch per call of it leaves two thirds of the queries.
    with djperf.capture() as rec:
        _offer_stages(["B00", "B01"])
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "contains-check")
    # A batch per call of _satisfied() would leave most of the queries: no
    # code is offered for it (oscar's reviewer: the batch "skips range.proxy"
    # and leaves the real work unwritten), the reason and the direction are.
    assert finding.fix.text.startswith("no code for this line: _titled() sends one query")
    assert finding.fix.text.endswith(
        "; but _satisfied() is itself called from more than one place ("
        f"{line(HERE, 'stage-is-satisfied')}, {line(HERE, 'stage-apply')}, "
        f"{line(HERE, 'stage-consume')}), and the 6 queries asked for only 2 values, each "
        "again in those calls: one batch per call of _satisfied() (the values collected in "
        "that loop, one query before it) would leave most of them. Keep the results where "
        "those calls meet (on an object they share, or for the request) and look each value "
        "up there first"
    )
    assert "filter(" not in finding.fix.text


def test_values_asked_once_each_by_one_call_of_the_loops_function_get_the_batch_alone(
    library,
):
    with djperf.capture() as rec:
        _satisfied(["B00", "B01", "B10", "B11", "B20", "B00"])
    [finding] = of(rec, "repeated-query")
    assert "itself called" not in finding.fix.text
    assert finding.fix.text.endswith("run this once before it, and hand the results down")


class _Range:
    def __init__(self, title):
        self.title = title

    @cached_property
    def has_books(self):
        return Book.objects.filter(title=self.title).exists()  # range-cached


def test_a_cached_property_asked_again_for_the_same_values_means_objects_loaded_anew(library):
    # As oscar's Range.product_queryset: each offer stage loads its range
    # again, and each new object computes it again; no queryset loads them
    # all to annotate.
    with djperf.capture() as rec:
        for _ in range(3):
            for title in ("B00", "B01"):
                _Range(title).has_books  # noqa: B018
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "range-cached")
    assert finding.fix.text.startswith(
        "no code for this line: has_books is a cached_property, computed once per object, "
        "yet its 6 queries asked for only 2 values, each again: the same rows were loaded "
        "again as new objects"
    )


def test_a_cached_property_computed_once_per_value_keeps_the_batch(library):
    with djperf.capture() as rec:
        for title in ("B00", "B01", "B10", "B11", "B20", "B21"):
            _Range(title).has_books  # noqa: B018
    [finding] = of(rec, "repeated-query")
    assert not finding.fix.text.startswith("no code")


def _next_free_title(base):
    title, number = base, 1
    while Book.objects.filter(title=title).exists():  # probe-while
        number += 1
        title = f"{base}-{number}"
    return title


def test_a_while_trying_one_candidate_per_pass_is_asked_for_many_at_once(library):
    # As oscar's AutoSlugField: slug, slug-2, slug-3 ... one query each until
    # one is free. No list of values exists before the loop to batch.
    Book.objects.bulk_create(
        Book(title=title, author=Author.objects.first())
        for title in ("Dup", "Dup-2", "Dup-3", "Dup-4")
    )
    with djperf.capture() as rec:
        assert _next_free_title("Dup") == "Dup-5"
    [finding] = of(rec, "repeated-query")
    start = line(HERE, "probe-while").rsplit(":", 1)[1]
    assert finding.fix.text.startswith(
        f"no code for this line: the while loop at line {start} of _next_free_title() tries one "
        "candidate title per pass until one is free, one query each, and each next candidate "
        "waits for the last answer. One query can test many: make several candidates up "
        "front, ask which are taken at once (a set of "
        "Book.objects.filter(title__in=values).values_list('title', flat=True), with the "
        "line's other conditions), take the first not taken"
    )
    assert "repeats the calls" not in finding.fix.text


def _unused_code(draw):
    while True:
        code = draw()
        if not Book.objects.filter(title=code).exists():  # draw-check
            return code


def _issue_codes(count):
    drawn = iter([f"code-{number}" for number in range(100)])
    issued = []
    for _ in range(count):
        issued.append(_unused_code(lambda: next(drawn)))  # issue-loop
    return issued


def test_a_draw_until_free_called_per_item_makes_candidates_for_every_pass(library):
    # As oscar's get_unused_code(), called once per voucher of a set.
    with djperf.capture() as rec:
        assert len(_issue_codes(5)) == 5
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "draw-check")
    assert finding.fix.text.startswith("no code for this line: the while loop at line ")
    assert (
        f"And the loop at {line(HERE, 'issue-loop')} in _issue_codes() repeats the calls: "
        "make the candidates for all of its passes at once, distinct from each other, give "
        "each pass its own, and try again only for those taken"
    ) in finding.fix.text


def _drain(titles):
    while titles:
        title = titles.pop()
        Book.objects.filter(title=title).exists()  # drain-check


def test_a_while_over_known_values_keeps_the_batch(library):
    with djperf.capture() as rec:
        _drain(["B00", "B01", "B10", "B11", "B20"])
    [finding] = of(rec, "repeated-query")
    assert str(finding.location) == line(HERE, "drain-check")
    assert finding.fix.text.startswith("Book.objects.filter(title__in=values)")


def _label_album(album, label):
    album.labelled.add(label)  # through-add


def test_a_librarys_manager_writing_a_through_model_names_its_loop_and_what_bulk_skips(
    library, settings, tmp_path
):
    # babybuddy's fake command: taggit's add() per entry, called from a
    # helper of the while loop; its Tagged model stamps each save in
    # save_base(), which Tagged.objects.bulk_create() would skip.
    from django.db.models.signals import post_save

    from tests.testapp.models import Album, Label, Labelling

    source = (
        "class Labels:\n"
        "    def __init__(self, album):\n"
        "        self.album = album\n"
        "    def add(self, label):\n"
        "        from tests.testapp.models import Labelling\n"
        "        have = Labelling.objects.filter(album=self.album)\n"
        "        have = have.values_list('label', flat=True)\n"
        "        if label.pk not in set(have):\n"
        "            Labelling.objects.create(album=self.album, label=label)\n"
    )
    stamped = []

    def stamp(sender, instance, **kwargs):
        stamped.append(instance.pk)

    post_save.connect(stamp, sender=Labelling)
    try:
        with third_party_package(settings, tmp_path, "labelly", source) as labelly:
            label = Label.objects.create(name="live")
            albums = [Album.objects.create(name=f"album {n}") for n in range(6)]
            for album in albums:
                album.labelled = labelly.Labels(album)
            with djperf.capture() as rec:
                for album in albums:
                    _label_album(album, label)  # album-loop
    finally:
        post_save.disconnect(stamp, sender=Labelling)
    assert len(stamped) == 6
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.endswith(
        "write the rows of all of them together (Labelling.objects.bulk_create([...]): one row "
        "per object and value, leaving out a value given twice and one the object has, as "
        f"the calls do), in the loop at {line(HERE, 'album-loop')} in "
        "test_a_librarys_manager_writing_a_through_model_names_its_loop_and_what_bulk_skips(), "
        "or keep one call per object; the bulk_create would skip the post_save receiver "
        "tests.detect.rules.test_repeated_query.test_a_librarys_manager_writing_a_through_model"
        "_names_its_loop_and_what_bulk_skips.<locals>.stamp: do what they do for all the rows "
        "at once, or keep the calls"
    )


def test_a_librarys_manager_reading_before_each_objects_write_cannot_be_called_once(
    library, settings, tmp_path
):
    # django-taggit's instance.tags.add(...) reads the tags the object has,
    # then writes the rest: one object per call, so "call it once for all
    # the values" cannot be done.
    from types import SimpleNamespace

    source = (
        "class Manager:\n"
        "    def __init__(self, book):\n"
        "        self.book = book\n"
        "    def add(self, *tags):\n"
        "        through = type(self.book).tags.through\n"
        "        have = set(through.objects.filter(book=self.book).values_list('tag', flat=True))\n"
        "        through.objects.bulk_create(\n"
        "            [through(book=self.book, tag=t) for t in tags if t.pk not in have]\n"
        "        )\n"
    )
    with third_party_package(settings, tmp_path, "taggy", source) as taggy:
        tag = Tag.objects.create(name="new")
        with djperf.capture() as rec:
            for book in Book.objects.all():
                holder = SimpleNamespace(tags=taggy.Manager(book))
                holder.tags.add(tag)  # library-manager-read
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.startswith(
        "no code for this line: the queries are taggy's, its tags.add() at "
        f"{line(HERE, 'library-manager-read')} reads what one object has before writing, and "
        "serves one object per call, so no one call takes every object."
    )
