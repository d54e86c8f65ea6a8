"""repeated-query, duplicate-query, large-in-clause."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction

import djperf
from tests.detect.conftest import line, of
from tests.testapp.models import Author, Book, Tag

pytestmark = pytest.mark.django_db
HERE = __file__


# -- repeated-query: must flag ----------------------------------------------------


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
    with djperf.capture() as rec:
        for name in ("A0", "A1", "A2", "nobody", "x", "y"):
            Author.objects.filter(name=name).first()
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text == "Author.objects.filter(name__in=values)"


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


def test_an_existence_test_per_row_is_an_exists_annotation(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.reviews.exists()
    [finding] = of(rec, "repeated-query")
    assert finding.fix.text.startswith(
        "Book.objects.annotate(has_reviews=Exists(Review.objects.filter(book=OuterRef('pk'))))"
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
        "Tag.objects.annotate(books_count=Count('books'))  # then read .books_count",
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
    from tests.testapp.models import Review

    with djperf.capture() as rec:
        for book in Book.objects.all():
            Review.objects.filter(book=book, rating__gte=1).count()
    [finding] = of(rec, "repeated-query")
    assert "Count('reviews', filter=Q(reviews__...))" in finding.fix.text


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


# -- repeated-query: must not flag ---------------------------------------------------


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


# -- duplicate-query: must flag -----------------------------------------------------


def test_the_same_query_twice(library):
    with djperf.capture() as rec:
        list(Book.objects.filter(title__startswith="B0"))  # first-dup
        list(Book.objects.filter(title__startswith="B0"))
    [finding] = of(rec, "duplicate-query")
    assert (finding.model, finding.count) == ("testapp.Book", 2)
    assert finding.fix.method == "reuse"
    assert str(finding.location) == line(HERE, "first-dup")


def test_the_same_count_in_a_loop(library):
    with djperf.capture() as rec:
        for _ in Book.objects.all():
            Author.objects.count()
    [finding] = of(rec, "duplicate-query")
    assert finding.count == 6


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


def test_one_instances_many_to_many_read_three_times(library):
    with djperf.capture() as rec:
        book = Book.objects.get(title="B00")
        names = [tag.name for tag in book.tags.all()]
        count = len(book.tags.all())  # first-repeat
        first = book.tags.all()[0] if book.tags.all() else None
    assert (names, count, first.name) == (["t0", "t1"], 2, "t0")
    [finding] = of(rec, "duplicate-query")
    assert (finding.field, finding.count) == ("tags", 3)
    assert str(finding.location) == line(HERE, "first-repeat")


# -- duplicate-query: must not flag ---------------------------------------------------


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


# -- large-in-clause: must flag ------------------------------------------------------


def test_a_long_in_list(library):
    pks = list(range(1, 300))
    with djperf.capture() as rec:
        list(Book.objects.filter(pk__in=pks))  # big-in
    [finding] = of(rec, "large-in-clause")
    assert (finding.model, finding.count) == ("testapp.Book", 299)
    assert finding.fix.method == "subquery"
    assert str(finding.location) == line(HERE, "big-in")


def test_a_long_in_list_in_a_delete(library):
    with djperf.capture(thresholds={"large-in-clause": {"count": 5}}) as rec:
        Book.objects.filter(pk__in=list(range(1000, 1010))).delete()
    assert len(of(rec, "large-in-clause")) == 1


# -- large-in-clause: must not flag -------------------------------------------------


def test_in_list_not_below_the_threshold(library):
    with djperf.capture() as rec:
        list(Book.objects.filter(pk__in=list(range(1, 150))))
    assert of(rec, "large-in-clause") == []


def test_in_list_not_of_a_prefetch(library):
    for i in range(250):
        Tag.objects.create(name=f"many {i}")
    with djperf.capture() as rec:
        for tag in Tag.objects.prefetch_related("books"):
            list(tag.books.all())
    assert of(rec, "large-in-clause") == []


def test_in_list_not_of_in_bulk_or_bulk_update(library):
    tags = [Tag(name=f"bulk {i}") for i in range(250)]
    Tag.objects.bulk_create(tags)
    tags = list(Tag.objects.filter(name__startswith="bulk"))
    with djperf.capture() as rec:
        Tag.objects.in_bulk([t.pk for t in tags])
        for tag in tags:
            tag.name = tag.name.upper()
        Tag.objects.bulk_update(tags, ["name"])
    assert of(rec, "large-in-clause") == []


def test_in_list_not_of_a_deletions_cascades(library):
    # Deleting 300 authors: Django's cascade statements list their pks.
    Author.objects.bulk_create([Author(name=f"gone {i}") for i in range(300)])
    Book.objects.bulk_create(
        [Book(title="t", author=a) for a in Author.objects.filter(name__startswith="gone")]
    )
    with djperf.capture() as rec:
        Author.objects.filter(name__startswith="gone").delete()
    assert of(rec, "large-in-clause") == []


def test_in_list_not_of_a_related_manager_write(library):
    tags = Tag.objects.bulk_create([Tag(name=f"set {i}") for i in range(250)])
    book = Book.objects.first()
    with djperf.capture() as rec:
        book.tags.set(tags)
        book.tags.remove(*tags)
    assert of(rec, "large-in-clause") == []


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
