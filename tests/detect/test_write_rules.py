"""write-in-loop: per-row writes, counted per operation."""

from __future__ import annotations

import pytest

import djperf
from tests.detect.conftest import line, of
from tests.testapp.models import Author, Book, Publisher, Tag

pytestmark = pytest.mark.django_db
HERE = __file__


# -- must flag ------------------------------------------------------------------


def test_create_in_a_loop(library):
    with djperf.capture() as rec:
        for i in range(5):
            Tag.objects.create(name=f"new {i}")  # create-in-loop
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("testapp.Tag", 5)
    assert finding.fix.method == "bulk_create"
    assert finding.fix.text == "Tag.objects.bulk_create(objs)"
    assert str(finding.location) == line(HERE, "create-in-loop")


def test_save_in_a_loop_names_the_fields(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.title = book.title.upper()
            book.save(update_fields=["title"])
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "bulk_update"
    assert finding.fix.text == "Book.objects.bulk_update(objs, ['title'])"


def test_full_save_in_a_loop(library):
    with djperf.capture() as rec:
        for publisher in Publisher.objects.all():
            publisher.save()
        for author in Author.objects.all():
            author.save()
    [finding] = of(rec, "write-in-loop")
    assert finding.model == "testapp.Author"
    assert finding.fix.text == "Author.objects.bulk_update(objs, ['name'])"


def test_delete_in_a_loop_is_one_finding_despite_cascades(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.delete()  # delete-in-loop
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("testapp.Book", 6)
    assert finding.fix.text == "Book.objects.filter(pk__in=ids).delete()"
    assert str(finding.location) == line(HERE, "delete-in-loop")


def test_many_to_many_set_in_a_loop(library):
    tags = list(Tag.objects.all())
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.tags.set(tags)
    [finding] = of(rec, "write-in-loop")
    assert finding.model == "testapp.Book_tags"
    assert finding.fix.text.startswith("Book.tags.through.objects.bulk_create(")
    assert "Book.tags rows" in finding.message


def test_queryset_update_in_a_loop(library):
    with djperf.capture() as rec:
        for i, book in enumerate(Book.objects.all()):
            Book.objects.filter(title=book.title).update(summary=str(i))
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "update"


def test_create_user_in_a_loop_is_the_users_write(library):
    # django.contrib.auth's manager is not bookkeeping: it writes the user's rows.
    from django.contrib.auth.models import User

    with djperf.capture() as rec:
        for i in range(4):
            User.objects.create_user(f"new{i}")  # create-user
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("auth.User", 4)
    assert str(finding.location) == line(HERE, "create-user")


def test_update_keyed_by_a_foreign_key_is_no_bulk_update(library):
    # "author_id = %s" is not the primary key: bulk_update would not do it.
    with djperf.capture() as rec:
        for author in Author.objects.all():
            Book.objects.filter(author_id=author.pk).update(summary="x")
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "update"


def test_many_to_many_remove_in_a_loop_deletes_through_rows(library):
    tag = Tag.objects.get(name="t0")
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.tags.remove(tag)
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "delete"
    assert finding.fix.text.startswith("Book.tags.through.objects.filter(")


@pytest.mark.parametrize("existing", [False, True], ids=["creating", "existing"])
def test_get_or_create_in_a_loop_is_one_finding(library, existing):
    names = [f"t{i}" if existing else f"new {i}" for i in range(3)] * 2
    with djperf.capture() as rec:
        for name in names:
            Tag.objects.get_or_create(name=name)  # goc-in-loop
    assert [f.rule for f in rec.findings] == ["write-in-loop"]
    [finding] = rec.findings
    assert finding.count == 6
    assert finding.fix.method == "bulk_create"
    assert "in_bulk" in finding.fix.text
    assert str(finding.location) == line(HERE, "goc-in-loop")


def test_writes_of_a_delete_signal_handler_are_the_handlers(library):
    from django.db.models.signals import post_delete

    from tests.testapp.models import Chapter

    def log_deletion(sender, instance, **kwargs):
        Tag.objects.create(name=f"deleted {instance.pk}")  # handler-write

    post_delete.connect(log_deletion, sender=Chapter)
    try:
        with djperf.capture() as rec:
            Book.objects.filter(title__startswith="B0").delete()
    finally:
        post_delete.disconnect(log_deletion, sender=Chapter)
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("testapp.Tag", 4)
    assert str(finding.location) == line(HERE, "handler-write")


# -- must not flag -----------------------------------------------------------------


def test_not_a_get_or_create_per_distinct_line(library):
    with djperf.capture() as rec:
        Tag.objects.get_or_create(name="one")
        Tag.objects.get_or_create(name="two")
        Tag.objects.update_or_create(name="three", defaults={"name": "three"})
    assert rec.findings == []


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


def test_not_below_the_threshold(library):
    with djperf.capture() as rec:
        Tag.objects.create(name="one")
        for i in range(2):
            Tag.objects.create(name=f"two {i}")
    assert of(rec, "write-in-loop") == []


def test_bulk_create_of_one_object_per_row(library):
    with djperf.capture() as rec:
        for i in range(5):
            Tag.objects.bulk_create([Tag(name=f"one {i}")])  # bulk-of-one
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("testapp.Tag", 5)
    assert finding.fix.text == "Tag.objects.bulk_create(objs)"
    assert str(finding.location) == line(HERE, "bulk-of-one")


def test_bulk_update_of_one_object_per_row(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.title += "!"
            Book.objects.bulk_update([book], ["title"])
    [finding] = of(rec, "write-in-loop")
    assert finding.count == 6
    assert finding.fix.text == "Book.objects.bulk_update(objs, ['title'])"


def test_not_bulk_create_of_one_object_twice(library):
    with djperf.capture() as rec:
        for i in range(2):
            Tag.objects.bulk_create(objs=[Tag(name=f"one {i}")])
    assert rec.findings == []


def test_not_bulk_create_of_several_objects_per_call(library):
    # Batches, if small ones (a generator's size is unknown: a batch too).
    with djperf.capture() as rec:
        for i in range(5):
            Tag.objects.bulk_create([Tag(name=f"g {i}{j}") for j in range(3)])
            Tag.objects.bulk_create(Tag(name=f"h {i}{j}") for j in range(1))
    assert rec.findings == []


def test_not_bulk_create(library):
    with djperf.capture() as rec:
        Tag.objects.bulk_create([Tag(name=f"bulk {i}") for i in range(50)], batch_size=5)
    assert rec.findings == []


def test_not_bulk_update(library):
    books = list(Book.objects.all())
    for book in books:
        book.title += "!"
    with djperf.capture() as rec:
        Book.objects.bulk_update(books, ["title"], batch_size=1)
    assert rec.findings == []


def test_not_one_delete_with_many_cascades(library):
    with djperf.capture() as rec:
        Author.objects.all().delete()
    assert rec.findings == []


def test_not_one_queryset_update(library):
    with djperf.capture() as rec:
        Book.objects.update(summary="")
    assert rec.findings == []


def test_not_writes_to_different_tables(library):
    with djperf.capture() as rec:
        Tag.objects.create(name="a")
        Publisher.objects.create(name="b")
        Author.objects.create(name="c")
    assert rec.findings == []


def test_not_one_set_of_many_rows(library):
    book = Book.objects.first()
    with djperf.capture() as rec:
        book.tags.set(list(Tag.objects.all()))
    assert of(rec, "write-in-loop") == []


def test_not_a_set_that_changes_nothing(library, caplog):
    import logging

    with caplog.at_level(logging.ERROR, logger="djperf"), djperf.capture() as rec:
        for book in Book.objects.prefetch_related("tags"):
            book.tags.set(list(book.tags.all()))
    assert of(rec, "write-in-loop") == []
    assert "internal error" not in caplog.text
