"""djperf.batched / abatched: every row once, in key order, one query per batch."""

from __future__ import annotations

import asyncio
import os

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

import djperf
from djperf.batch import BatchError
from tests.testapp.models import Author, Book, Publisher, Stock, Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def books():
    author = Author.objects.create(name="A")
    publisher = Publisher.objects.create(name="P")
    tags = [Tag.objects.create(name=f"t{i}") for i in range(2)]
    made = []
    for i in range(23):
        book = Book.objects.create(title=f"B{i:02}", author=author, publisher=publisher)
        book.tags.set(tags[: i % 3])
        made.append(book)
    return made


def test_every_row_once_in_key_order(books):
    batches = list(djperf.batched(Book.objects.all(), size=5))
    assert [len(batch) for batch in batches] == [5, 5, 5, 5, 3]
    assert [book.pk for batch in batches for book in batch] == sorted(b.pk for b in books)


def test_a_batch_size_dividing_the_rows_ends_with_one_empty_query(books):
    with CaptureQueriesContext(connection) as queries:
        batches = list(djperf.batched(Book.objects.filter(pk__in=[b.pk for b in books[:20]]), 10))
    assert [len(batch) for batch in batches] == [10, 10]
    assert len(queries) == 3  # the third finds nothing


def test_the_callers_filter_is_kept_and_its_order_replaced(books):
    odd = Book.objects.filter(title__endswith="1").order_by("-title")
    rows = [book for batch in djperf.batched(odd, size=1) for book in batch]
    assert [book.title for book in rows] == ["B01", "B11", "B21"]


def test_descending(books):
    rows = [b.pk for batch in djperf.batched(Book.objects.all(), 4, key="-pk") for b in batch]
    assert rows == sorted((b.pk for b in books), reverse=True)


def test_a_unique_combination(books):
    publisher = Publisher.objects.create(name="Q")
    for partner in (books[0].publisher, publisher):
        for sku in ("a", "b", "c"):
            Stock.objects.create(partner=partner, sku=sku, code=f"{partner.pk}-{sku}")
    batches = list(djperf.batched(Stock.objects.all(), 2, key=("partner", "sku")))
    keys = [(s.partner_id, s.sku) for batch in batches for s in batch]
    assert keys == sorted(keys) and len(keys) == 6


def test_prefetch_runs_per_batch(books):
    queryset = Book.objects.select_related("author").prefetch_related("tags")
    with CaptureQueriesContext(connection) as queries:
        seen = {
            b.pk: {t.name for t in b.tags.all()}
            for batch in djperf.batched(queryset, 10)
            for b in batch
        }
    assert len(seen) == 23
    assert seen[books[2].pk] == {"t0", "t1"}
    assert len(queries) == 6  # 3 batches, each with its prefetch


def test_values_and_values_list(books):
    values = list(djperf.batched(Book.objects.values("id", "title"), 10))
    assert [row["title"] for batch in values for row in batch][:2] == ["B00", "B01"]
    tuples = list(djperf.batched(Book.objects.values_list("title", "id"), 10))
    assert sum(map(len, tuples)) == 23
    named = list(djperf.batched(Book.objects.values_list("id", "title", named=True), 10))
    assert named[0][0].title == "B00"
    flat = list(djperf.batched(Book.objects.values_list("id", flat=True), 10, key="id"))
    assert [pk for batch in flat for pk in batch] == sorted(b.pk for b in books)


def test_the_primary_key_selected_as_pk(books):
    pairs = [r for b in djperf.batched(Book.objects.values_list("pk", "title"), 10) for r in b]
    assert [pk for pk, _title in pairs] == sorted(b.pk for b in books)
    dicts = [r for b in djperf.batched(Book.objects.values("pk", "title"), 10) for r in b]
    assert [row["pk"] for row in dicts] == sorted(b.pk for b in books)
    flat = [pk for b in djperf.batched(Book.objects.values_list("pk", flat=True), 10) for pk in b]
    assert flat == sorted(b.pk for b in books)


@pytest.mark.parametrize(
    ("queryset", "key", "message"),
    [
        (lambda: Book.objects.all()[:5], None, "a sliced queryset cannot be paged"),
        (lambda: Book.objects.all(), "title", r"\(title\) is not unique"),
        (lambda: Book.objects.all(), "publisher", "can be NULL"),
        (lambda: Book.objects.values("title"), None, "values\\(\\) must include the key"),
        (lambda: Book.objects.values_list("title", flat=True), None, "flat=True"),
    ],
)
def test_what_cannot_be_paged_says_why(books, queryset, key, message):
    with pytest.raises(BatchError, match=message):
        for _ in djperf.batched(queryset(), 5, key=key):
            pass


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_a_wrong_size_is_refused_at_once(size):
    with pytest.raises(BatchError, match="size must be a whole number"):
        djperf.batched(Book.objects.all(), size)
    with pytest.raises(BatchError, match="size must be a whole number"):
        djperf.abatched(Book.objects.all(), size)


def test_changing_a_batch_does_not_move_the_next_one(books):
    seen = []
    for batch in djperf.batched(Book.objects.all(), 5):
        seen += [book.pk for book in batch]
        for book in batch:
            book.pk = 0  # not saved: the next page still starts after the real last key
    assert seen == sorted(b.pk for b in books)


def test_an_empty_queryset_yields_nothing():
    assert list(djperf.batched(Book.objects.none(), 10)) == []


@pytest.mark.django_db(transaction=True)
def test_abatched(books):
    async def pages():
        try:
            return [
                [b.pk for b in batch] async for batch in djperf.abatched(Book.objects.all(), 10)
            ]
        finally:
            # The thread the ORM ran in keeps its connection: close it.
            await sync_to_async(connections.close_all)()

    batches = asyncio.run(pages())
    assert [len(batch) for batch in batches] == [10, 10, 3]
    assert [pk for batch in batches for pk in batch] == sorted(b.pk for b in books)


def test_a_foreign_key_in_the_key_pages_by_its_column_not_the_related_ordering(books):
    # Ordering by "partner" would follow Publisher's Meta.ordering, if it had one;
    # with a name ordering opposite to the ids, pages would skip rows.
    first = Publisher.objects.create(name="Z")
    second = Publisher.objects.create(name="A")
    for partner in (first, second):
        for sku in ("a", "b"):
            Stock.objects.create(partner=partner, sku=sku, code=f"{partner.pk}{sku}")
    with CaptureQueriesContext(connection) as queries:
        rows = [
            s for b in djperf.batched(Stock.objects.all(), 1, key=("partner", "sku")) for s in b
        ]
    assert [(s.partner_id, s.sku) for s in rows] == sorted((s.partner_id, s.sku) for s in rows)
    assert len(rows) == 4
    assert "testapp_publisher" not in queries[0]["sql"]


@pytest.mark.skipif(
    os.environ.get("DJPERF_TEST_DB", "sqlite") != "postgres",
    reason="server-side cursors: PostgreSQL's pg_cursors",
)
def test_no_cursor_is_held_between_batches_so_a_transaction_pool_can_serve_it(books):
    """PgBouncer in transaction mode hands the connection to another client
    between transactions: a server-side cursor (what iterator() streams
    with) would be lost. batched() holds none between its batches."""

    def open_cursors():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors")
            return cursor.fetchone()[0]

    held = []
    for _batch in djperf.batched(Book.objects.all(), 5):
        held.append(open_cursors())
    assert held == [0] * 5
    # The check can tell: iterator() holds one while it streams.
    for _book in Book.objects.all().iterator(chunk_size=5):
        held.append(open_cursors())
        break
    assert held[-1] == 1


def test_values_list_with_an_annotation_before_the_key(books):
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    rows = Book.objects.annotate(score=F("id") + 100).values_list("score", "pk")
    got = [row for batch in djperf.batched(rows, 3) for row in batch]
    assert [pk for _score, pk in got] == sorted(b.pk for b in books)
    named = Book.objects.annotate(label=Concat("title", Value("!"))).values_list(
        "label", "id", named=True
    )
    got = [row.id for batch in djperf.batched(named, 4) for row in batch]
    assert got == sorted(b.pk for b in books)


def test_a_reversed_queryset_is_paged_in_key_order(books):
    got = [b.pk for batch in djperf.batched(Book.objects.all().reverse(), 5) for b in batch]
    assert got == sorted(b.pk for b in books)
    down = Book.objects.order_by("pk").reverse()
    got = [b.pk for batch in djperf.batched(down, 5, key="-pk") for b in batch]
    assert got == sorted((b.pk for b in books), reverse=True)


def test_combined_and_distinct_on_querysets_are_refused_at_once(books):
    with pytest.raises(BatchError, match=r"union\(\) of querysets"):
        djperf.batched(Book.objects.filter(pk=1).union(Book.objects.filter(pk=2)), 5)
    with pytest.raises(BatchError, match=r"distinct\(\*fields\)"):
        djperf.batched(Book.objects.distinct("title"), 5)


def test_a_key_may_name_a_foreign_key_by_its_column(books):
    publisher = books[0].publisher
    for sku in "abc":
        Stock.objects.create(partner=publisher, sku=sku, code=sku)
    got = [
        s.sku for b in djperf.batched(Stock.objects.all(), 2, key=("partner_id", "sku")) for s in b
    ]
    assert got == ["a", "b", "c"]
