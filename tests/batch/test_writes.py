"""update_in_batches, delete_in_batches, bulk_create_with_m2m on the suite's
backend (run once per database by `make test`)."""

from __future__ import annotations

import datetime
import decimal
import re

import pytest
from django.db import connection
from django.db.models import F
from django.db.models.signals import post_delete
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import djperf
from djperf.batch import BatchError
from pizzas.models import Pizza, Topping
from tests.testapp.models import (
    Album,
    Author,
    Award,
    Badge,
    Book,
    Chapter,
    Edition,
    Label,
    Page,
    Person,
    Publisher,
    Review,
    Scout,
    Stock,
    Tag,
    Team,
    Vee,
)

pytestmark = pytest.mark.django_db


def _writes(queries: CaptureQueriesContext) -> list[str]:
    """The UPDATE and DELETE statements (not the savepoints around batches)."""
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("UPDATE", "DELETE"))]


@pytest.fixture
def books():
    author = Author.objects.create(name="A")
    publisher = Publisher.objects.create(name="P")
    return [
        Book.objects.create(title=f"B{i:02}", author=author, publisher=publisher) for i in range(23)
    ]


def test_update_writes_each_batch_with_one_statement_joined_on_values(books):
    def shout(book):
        book.title = book.title.lower() + "!"

    with CaptureQueriesContext(connection) as queries:
        result = djperf.update_in_batches(Book.objects.all(), shout, ["title"], size=10)
    assert (result.batches, result.rows, result.written) == (3, 23, 23)
    updates = _writes(queries)
    assert len(updates) == 3
    for sql in updates:
        assert "CASE" not in sql.upper()
        joined = {"mysql": "INNER JOIN (SELECT", "postgresql": "FROM UNNEST("}
        assert joined.get(connection.vendor, "FROM (VALUES") in sql.upper()
    assert sorted(Book.objects.values_list("title", flat=True)) == [f"b{i:02}!" for i in range(23)]


def test_the_callers_filter_and_key_are_kept(books):
    chosen = Book.objects.filter(title__endswith="1")
    result = djperf.update_in_batches(
        chosen, lambda book: setattr(book, "summary", "one"), ["summary"], 1, key="-pk"
    )
    assert result.rows == result.written == 3
    assert set(Book.objects.filter(summary="one").values_list("title", flat=True)) == {
        "B01",
        "B11",
        "B21",
    }


def test_values_of_every_kind_reach_the_table_as_written():
    publishers = [Publisher.objects.create(name=f"P{i}") for i in range(2)]
    for i in range(4):
        Stock.objects.create(partner=publishers[0], sku=f"s{i}", code=f"c{i}")
    when = timezone.now().replace(microsecond=0) - datetime.timedelta(days=3)

    def restock(stock):
        stock.count = stock.pk * 7
        stock.updated = when
        stock.partner = publishers[1]

    djperf.update_in_batches(
        Stock.objects.all(), restock, ["count", "updated", "partner"], size=3, method="values"
    )
    for stock in Stock.objects.all():
        assert (stock.count, stock.updated, stock.partner_id) == (
            stock.pk * 7,
            when,
            publishers[1].pk,
        )

    pizzas = [Pizza.objects.create(name=f"z{i}", price=decimal.Decimal("9.50")) for i in range(3)]
    djperf.update_in_batches(
        Pizza.objects.all(),
        lambda pizza: setattr(pizza, "price", pizza.price + decimal.Decimal("0.25")),
        ["price"],
        method="values",
    )
    assert {p.price for p in Pizza.objects.all()} == {decimal.Decimal("9.75")}
    assert len(pizzas) == 3

    Page.objects.create(path="/a", meta={"tags": ["x"], "n": 1})
    Page.objects.create(path="/b", meta={})
    djperf.update_in_batches(
        Page.objects.all(),
        lambda page: setattr(page, "meta", {**page.meta, "seen": True, "nested": {"k": [1, 2]}}),
        ["meta"],
        method="values",
    )
    assert [p.meta for p in Page.objects.order_by("path")] == [
        {"tags": ["x"], "n": 1, "seen": True, "nested": {"k": [1, 2]}},
        {"seen": True, "nested": {"k": [1, 2]}},
    ]


def test_null_is_written(books):
    djperf.update_in_batches(
        Book.objects.all(), lambda b: setattr(b, "publisher", None), ["publisher"], 7
    )
    assert not Book.objects.filter(publisher__isnull=False).exists()


def test_fn_returning_false_leaves_its_row_unwritten(books):
    def odd_only(book):
        if int(book.title[1:]) % 2 == 0:
            return False
        book.summary = "odd"
        return None

    result = djperf.update_in_batches(Book.objects.all(), odd_only, ["summary"], size=5)
    assert (result.rows, result.written) == (23, 11)
    assert Book.objects.filter(summary="odd").count() == 11


def test_expressions_are_written_by_bulk_update(books):
    Stock.objects.create(partner=books[0].publisher, sku="a", code="a", count=5)
    with CaptureQueriesContext(connection) as queries:
        djperf.update_in_batches(
            Stock.objects.all(), lambda s: setattr(s, "count", F("count") + 1), ["count"]
        )
    assert Stock.objects.get().count == 6
    assert "CASE" in " ".join(_writes(queries)).upper()


def test_a_parents_field_is_written_by_bulk_update_and_the_childs_own_by_values():
    author = Author.objects.create(name="A")
    for year in (1990, 2000):
        Edition.objects.create(title=f"E{year}", author=author, year=year)

    def bump(edition):
        edition.year += 1
        edition.title += "+"

    djperf.update_in_batches(Edition.objects.all(), bump, ["year", "title"])
    assert sorted(Edition.objects.values_list("title", "year")) == [
        ("E1990+", 1991),
        ("E2000+", 2001),
    ]
    with pytest.raises(BatchError, match=r"UPDATE \.\.\. FROM VALUES"):
        djperf.update_in_batches(Edition.objects.all(), bump, ["title"], method="values")


def test_bulk_update_can_be_asked_for(books):
    with CaptureQueriesContext(connection) as queries:
        result = djperf.update_in_batches(
            Book.objects.all(),
            lambda b: setattr(b, "summary", "s"),
            ["summary"],
            size=50,
            method="bulk_update",
        )
    assert result.written == 23
    assert "CASE" in " ".join(_writes(queries)).upper()


def test_each_batch_commits_on_its_own(books):
    """A failure in the third batch keeps the first two batches' writes."""

    def fail_late(book):
        if book.pk == books[12].pk:
            raise RuntimeError("boom")
        book.summary = "done"

    with pytest.raises(RuntimeError, match="boom"):
        djperf.update_in_batches(Book.objects.all(), fail_late, ["summary"], size=5)
    assert set(Book.objects.filter(summary="done").values_list("pk", flat=True)) == {
        book.pk for book in books[:10]
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("title", "must be a list"),
        ([], "must be a list"),
        (["nope"], "has no field 'nope'"),
        (["id"], "primary key"),
        (["tags"], "not a column"),
    ],
)
def test_fields_are_checked_before_any_row_is_read(fields, message):
    with CaptureQueriesContext(connection) as queries, pytest.raises(BatchError, match=message):
        djperf.update_in_batches(Book.objects.all(), lambda b: None, fields)
    assert len(queries) == 0


def test_values_rows_cannot_be_updated():
    with pytest.raises(BatchError, match="model instances"):
        djperf.update_in_batches(Book.objects.values("pk"), lambda b: None, ["title"])
    with pytest.raises(BatchError, match="method must be"):
        djperf.update_in_batches(Book.objects.all(), lambda b: None, ["title"], method="fast")


# -- delete_in_batches -------------------------------------------------------------


@pytest.fixture
def books_with_children(books):
    for book in books:
        Chapter.objects.create(book=book, title="c")
        Review.objects.create(book=book)
    return books


def test_delete_in_bounded_batches_with_cascades_honoured(books_with_children):
    keep = books_with_children[0]
    with CaptureQueriesContext(connection) as queries:
        result = djperf.delete_in_batches(Book.objects.exclude(pk=keep.pk), size=5)
    assert (result.batches, result.rows) == (5, 22)
    assert result.deleted == {"testapp.Book": 22, "testapp.Chapter": 22, "testapp.Review": 22}
    assert result.written == 66
    assert list(Book.objects.all()) == [keep]
    assert Chapter.objects.get().book == keep
    book_deletes = [
        sql for sql in _writes(queries) if re.match(r"DELETE FROM [`\"]testapp_book[`\"] ", sql)
    ]
    assert len(book_deletes) == 5
    # Never more ids in one statement than the batch holds.
    assert all(sql.count(",") < 5 for sql in book_deletes)


def test_delete_sends_the_signals_per_row(books):
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_delete.connect(receiver, sender=Book)
    try:
        djperf.delete_in_batches(Book.objects.all(), size=10)
    finally:
        post_delete.disconnect(receiver, sender=Book)
    assert sorted(seen) == sorted(b.pk for b in books)


def test_fast_delete_refuses_what_a_plain_delete_would_skip(books_with_children):
    with pytest.raises(BatchError, match=r"testapp\.Chapter\.book \(on_delete=CASCADE\)"):
        djperf.delete_in_batches(Book.objects.all(), fast=True)
    assert Book.objects.count() == 23
    Page.objects.create(path="/a")
    result = djperf.delete_in_batches(Page.objects.all(), fast=True)
    assert (result.written, Page.objects.count()) == (1, 0)


def test_delete_by_a_unique_combination(books):
    for sku in "abcdefg":
        Stock.objects.create(partner=books[0].publisher, sku=sku, code=sku)
    chosen = Stock.objects.filter(sku__lt="f")
    result = djperf.delete_in_batches(chosen, 2, key=("-partner", "-sku"))
    assert (result.batches, result.rows) == (3, 5)
    assert sorted(Stock.objects.values_list("sku", flat=True)) == ["f", "g"]


# -- bulk_create_with_m2m ----------------------------------------------------------


def test_objects_and_their_links_in_two_inserts():
    cheese, basil, ham = (Topping.objects.create(name=n) for n in ("cheese", "basil", "ham"))
    pizzas = [Pizza(name=f"p{i}", price=decimal.Decimal("8")) for i in range(4)]
    wanted = [[cheese, basil], [cheese], [], [ham.pk, cheese, ham]]
    with CaptureQueriesContext(connection) as queries:
        created = djperf.bulk_create_with_m2m(pizzas, {"toppings": wanted})
    inserts = [q["sql"] for q in queries if q["sql"].upper().startswith("INSERT")]
    assert len(inserts) == 2
    assert all(pizza.pk is not None for pizza in created)
    assert [sorted(t.name for t in p.toppings.all()) for p in created] == [
        ["basil", "cheese"],
        ["cheese"],
        [],
        ["cheese", "ham"],  # ham once: a link given twice is written once
    ]


def test_links_from_a_function_and_in_batches():
    tags = [Tag.objects.create(name=f"t{i}") for i in range(3)]
    author = Author.objects.create(name="A")
    books = [Book(title=f"b{i}", author=author) for i in range(7)]
    with CaptureQueriesContext(connection) as queries:
        djperf.bulk_create_with_m2m(
            books, {"tags": lambda book: tags[: int(book.title[1:]) % 3]}, size=3
        )
    inserts = [q["sql"] for q in queries if q["sql"].upper().startswith("INSERT")]
    # 7 books in 3 inserts; their 6 links (0, 1, 2, 0, 1, 2, 0) in 2.
    links = sum(i % 3 for i in range(7))
    assert len(inserts) == 3 + -(-links // 3)
    assert Book.tags.through.objects.count() == links


def test_a_through_model_is_used_when_it_needs_nothing_more():
    labels = [Label.objects.create(name=n) for n in "ab"]
    albums = djperf.bulk_create_with_m2m([Album(name="x")], {"labels": [labels]})
    assert sorted(albums[0].label_names()) == ["a", "b"]


def test_bad_links_are_refused():
    with pytest.raises(BatchError, match="not a ManyToManyField"):
        djperf.bulk_create_with_m2m([Pizza(name="p", price=1)], {"name": [[]]})
    with pytest.raises(BatchError, match="has no field"):
        djperf.bulk_create_with_m2m([Pizza(name="p", price=1)], {"tags": [[]]})
    with pytest.raises(BatchError, match="unsaved Topping"):
        djperf.bulk_create_with_m2m([Pizza(name="p", price=1)], {"toppings": [[Topping()]]})
    # Refused inside the transaction: nothing of it stays.
    assert not Pizza.objects.exists()
    assert djperf.bulk_create_with_m2m([], {"toppings": []}) == []


def test_a_symmetrical_relation_gets_both_directions_as_add_would():
    ann = Person.objects.create(name="ann")
    people = [Person(name="bob"), Person(name="cat")]
    bob, cat = djperf.bulk_create_with_m2m(people, {"friends": [[ann], [ann, ann.pk]]}, size=2)
    assert sorted(f.name for f in ann.friends.all()) == ["bob", "cat"]
    assert [f.name for f in bob.friends.all()] == ["ann"]
    assert [f.name for f in cat.friends.all()] == ["ann"]


def test_a_through_model_needing_more_is_refused_before_anything_is_written():
    team = Team.objects.create(name="t")
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(BatchError, match=r"Membership .* needs role for each row"),
    ):
        djperf.bulk_create_with_m2m([Person(name="p")], {"teams": [[team]]})
    assert len(queries) == 0


def test_a_backend_that_returns_no_keys_is_refused_unless_the_objects_have_them(monkeypatch):
    # MySQL (not MariaDB) does not return the keys of a multi-row INSERT.
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    tag = Tag.objects.create(name="t")
    author = Author.objects.create(name="A")
    with pytest.raises(BatchError, match="does not return the primary keys"):
        djperf.bulk_create_with_m2m([Book(title="b", author=author)], {"tags": [[tag]]})
    assert not Book.objects.exists()
    given = Book(pk=10_000, title="b", author=author)
    djperf.bulk_create_with_m2m([given], {"tags": [[tag]]})
    assert [t.name for t in Book.objects.get(pk=10_000).tags.all()] == ["t"]


def test_the_key_cannot_be_among_the_fields_written(books):
    for sku in "abc":
        Stock.objects.create(partner=books[0].publisher, sku=sku, code=sku)
    with pytest.raises(BatchError, match="code is the key the job pages on"):
        djperf.update_in_batches(
            Stock.objects.all(), lambda s: setattr(s, "code", s.code + "!"), ["code"], key="code"
        )


def test_two_new_objects_naming_each_other_are_linked_once_each_way():
    bob, cat = Person(name="bob"), Person(name="cat")
    # bob names cat and cat names bob: (bob, cat) and (cat, bob), once each.
    djperf.bulk_create_with_m2m([bob, cat], {"friends": [[cat], [bob]]})
    assert Person.friends.through.objects.count() == 2
    assert [f.name for f in bob.friends.all()] == ["cat"]


def test_a_through_model_keyed_on_other_fields_stores_those_fields():
    badges = [Badge.objects.create(code=c) for c in ("knots", "fire")]
    scouts = djperf.bulk_create_with_m2m(
        [Scout(handle="ann"), Scout(handle="bob")], {"badges": [badges, ["fire"]]}
    )
    assert sorted(Award.objects.values_list("scout_id", "badge_id")) == [
        ("ann", "fire"),
        ("ann", "knots"),
        ("bob", "fire"),
    ]
    assert [b.code for b in scouts[1].badges.all()] == ["fire"]


def test_links_for_each_object_or_a_clear_error():
    with pytest.raises(BatchError, match=r"m2m\['toppings'\] has 1 entries for 2 objects"):
        djperf.bulk_create_with_m2m(
            [Pizza(name="a", price=1), Pizza(name="b", price=1)], {"toppings": [[]]}
        )


def test_keys_the_backend_does_not_return_are_read_back_by_match_on(monkeypatch):
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    tags = [Tag.objects.create(name=f"t{i}") for i in range(2)]
    author = Author.objects.create(name="A")
    Book.objects.create(title="b0", author=Author.objects.create(name="other"))  # same title
    books = [Book(title=f"b{i}", author=author) for i in range(5)]
    created = djperf.bulk_create_with_m2m(
        books,
        {"tags": lambda b: tags[: int(b.title[1:]) % 3]},
        size=2,
        match_on=("title", "author"),
    )
    assert all(book.pk is not None for book in created)
    assert [len(b.tags.all()) for b in created] == [0, 1, 2, 0, 1]
    with pytest.raises(BatchError, match="not unique among the new"):
        djperf.bulk_create_with_m2m(
            [Book(title="x", author=author), Book(title="x", author=author)],
            {"tags": [[], []]},
            match_on=("title",),
        )


def test_a_table_named_like_the_values_alias():
    for n in range(3):
        Vee.objects.create(n=n)
    djperf.update_in_batches(Vee.objects.all(), lambda v: setattr(v, "n", v.n + 10), ["n"])
    assert sorted(Vee.objects.values_list("n", flat=True)) == [10, 11, 12]


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite does not check lengths")
def test_a_value_too_long_fails_as_save_would(books):
    from django.db import DataError

    with pytest.raises(DataError):
        djperf.update_in_batches(
            Book.objects.all(), lambda b: setattr(b, "title", "x" * 101), ["title"], method="values"
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ArrayField: PostgreSQL's")
def test_an_array_column_is_written_from_values_which_unnest_would_flatten():
    from django.contrib.postgres.fields import ArrayField
    from django.db import models
    from django.test.utils import isolate_apps

    with isolate_apps("tests.testapp"):

        class Shelf(models.Model):
            labels = ArrayField(models.CharField(max_length=10), default=list)

            class Meta:
                app_label = "testapp"

            def __str__(self):
                return ",".join(self.labels)

        with connection.schema_editor() as editor:
            editor.create_model(Shelf)
        Shelf.objects.create(labels=["a"])
        Shelf.objects.create(labels=[])
        with CaptureQueriesContext(connection) as queries:
            djperf.update_in_batches(
                Shelf.objects.all(),
                lambda shelf: setattr(shelf, "labels", [*shelf.labels, "b", "c"]),
                ["labels"],
            )
        assert "FROM (VALUES" in " ".join(_writes(queries))
        assert [s.labels for s in Shelf.objects.order_by("pk")] == [["a", "b", "c"], ["b", "c"]]
