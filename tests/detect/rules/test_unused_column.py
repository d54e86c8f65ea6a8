"""unused-column: a wide column loaded for many rows and never read."""

from __future__ import annotations

import dataclasses
import pickle
import threading

import pytest
from asgiref.sync import async_to_sync
from django.core import serializers
from django.db.models.signals import post_init
from django.forms.models import model_to_dict
from django.template import Context, Template

import djperf
from tests.helpers import LONG, line, of, watched
from tests.testapp.models import Author, Book, Edition

pytestmark = pytest.mark.django_db
HERE = __file__


# -- must flag -----------------------------------------------------------------------------


def test_a_list_that_never_reads_the_wide_column(shelf):
    with djperf.capture() as rec:
        titles = [book.title for book in Book.objects.all()]  # titles-only
    assert len(titles) == 25
    [finding] = of(rec, "unused-column")
    assert (finding.model, finding.field, finding.count) == ("testapp.Book", "summary", 25)
    assert finding.fix.method == "defer"
    assert finding.fix.text == ".defer('summary')"
    assert str(finding.location) == line(HERE, "titles-only")
    assert str(finding.origin) == line(HERE, "titles-only")
    assert "about 75 kB" in finding.message


def test_a_template_that_never_shows_it(shelf):
    template = Template("{% for b in books %}{{ b.title }}{% endfor %}")
    with djperf.capture() as rec:
        books = Book.objects.all()  # template-list
        html = template.render(Context({"books": books}))
    assert "B24" in html
    [finding] = of(rec, "unused-column")
    assert finding.field == "summary"
    assert finding.fix.text == ".defer('summary')"


def test_only_listing_it_without_reading_it_keeps_the_rest_of_only(shelf):
    with djperf.capture() as rec:
        for book in Book.objects.only("title", "summary"):
            book.title  # noqa: B018
    [finding] = of(rec, "unused-column")
    assert finding.fix.text == ".only('title')"


def test_only_naming_it_alone_keeps_the_primary_key(shelf):
    # An empty only() would load every column.
    def keys():
        return [book.pk for book in Book.objects.only("summary")]

    with djperf.capture() as rec:
        keys()
    [finding] = of(rec, "unused-column")
    assert finding.fix.text == ".only('pk')"
    [trial] = djperf.verify(keys, [finding])
    assert trial.applied and trial.same_result and trial.after.queries == 1


def test_an_existing_defer_is_extended(shelf):
    with djperf.capture() as rec:
        for book in Book.objects.defer("title"):
            book.pk  # noqa: B018
    [finding] = of(rec, "unused-column")
    assert finding.fix.text == ".defer('title', 'summary')"


def test_in_an_async_for(shelf):
    async def view():
        async with djperf.capture() as rec:
            async for book in Book.objects.all():
                book.title  # noqa: B018
        return rec

    [finding] = of(async_to_sync(view)(), "unused-column")
    assert finding.count == 25


def test_an_iterator_loop_that_never_reads_it(shelf):
    with djperf.capture() as rec:
        for book in Book.objects.iterator(chunk_size=4):
            book.title  # noqa: B018
    [finding] = of(rec, "unused-column")
    assert finding.count == 25


# -- must flag: the fix, through djperf.verify() -------------------------------------------


def test_verify_defers_it_with_the_same_result(shelf):
    def titles():
        return [book.title for book in Book.objects.all()]

    with djperf.capture() as rec:
        titles()
    [trial] = djperf.verify(titles, of(rec, "unused-column"))
    assert trial.applied and trial.same_result
    assert trial.before.queries == trial.after.queries == 1
    # Bytes saved, never a query: the proof is the column's size.
    assert str(trial).endswith("same result, summary 75 kB -> 0 kB")
    assert trial.improved


def test_verify_drops_it_from_only(shelf):
    def titles():
        return [book.title for book in Book.objects.only("title", "summary")]

    with djperf.capture() as rec:
        titles()
    [trial] = djperf.verify(titles, of(rec, "unused-column"))
    assert trial.applied and trial.same_result
    assert trial.after.queries == 1  # summary is not loaded back per row


def test_verify_says_when_a_fix_adds_queries(shelf):
    def titles():
        return [book.title for book in Book.objects.all()]

    def summaries():
        return [book.summary for book in Book.objects.all()]

    with djperf.capture() as rec:
        titles()
    with djperf.capture() as reading:
        summaries()
    # The finding, proved on code that does read the column.
    [finding] = of(rec, "unused-column")
    finding = dataclasses.replace(finding, origin=reading.evaluations[0].location)
    [trial] = djperf.verify(summaries, [finding])
    assert trial.applied and (trial.before.queries, trial.after.queries) == (1, 26)
    assert str(trial).endswith("MORE queries")


# -- must not flag -------------------------------------------------------------------------


def test_read_in_the_loop(shelf):
    with djperf.capture() as rec:
        sizes = [len(book.summary) for book in Book.objects.all()]
    assert sizes == [3000] * 25
    assert of(rec, "unused-column") == []


def test_read_in_an_iterator_loop(shelf):
    # Rows are handed out while others are still being built: watched from the first.
    with djperf.capture() as rec:
        for book in Book.objects.iterator(chunk_size=4):
            book.summary  # noqa: B018
    assert of(rec, "unused-column") == []


def test_read_in_a_template(shelf):
    template = Template("{% for b in books %}{{ b.summary|length }}{% endfor %}")
    with djperf.capture() as rec:
        template.render(Context({"books": Book.objects.all()}))
    assert of(rec, "unused-column") == []


def test_read_on_one_row_only(shelf):
    # Deferring it would cost that row a query of its own.
    with djperf.capture() as rec:
        books = list(Book.objects.all())
        books[-1].summary  # noqa: B018
    assert of(rec, "unused-column") == []


def test_already_deferred(shelf):
    with djperf.capture() as rec:
        [book.title for book in Book.objects.defer("summary")]
    assert rec.findings == []


def test_too_few_rows(shelf):
    Book.objects.update(summary="x" * 10_000)
    with djperf.capture() as rec:
        [book.title for book in Book.objects.all()[:9]]  # 90 kB, but 9 rows
    assert of(rec, "unused-column") == []


def test_too_few_bytes(shelf):
    Book.objects.update(summary="x" * 1000)
    with djperf.capture() as rec:
        [book.title for book in Book.objects.all()]  # 25 rows, but 25 kB
    assert watched() is False  # released on close
    assert of(rec, "unused-column") == []


def test_small_values_are_not_watched(library):
    with djperf.capture() as rec:
        [book.title for book in Book.objects.all()]
        assert not watched()
    assert of(rec, "unused-column") == []


def test_read_in_another_thread(shelf):
    with djperf.capture() as rec:
        books = list(Book.objects.all())
        worker = threading.Thread(target=lambda: [book.summary for book in books])
        worker.start()
        worker.join()
    assert of(rec, "unused-column") == []


def test_pickled_instances(shelf):
    with djperf.capture() as rec:
        pickle.dumps(list(Book.objects.all()))
    assert of(rec, "unused-column") == []


def test_values_build_no_instances(shelf):
    with djperf.capture() as rec:
        list(Book.objects.values("title", "summary"))
        list(Book.objects.values_list("summary", flat=True))
    assert rec.findings == []


def test_model_to_dict_and_serializers_read_it(shelf):
    with djperf.capture() as rec:
        [model_to_dict(book) for book in Book.objects.all()]
        serializers.serialize("json", Book.objects.all())
    assert of(rec, "unused-column") == []


def test_saving_each_row_writes_it_back(shelf):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.save()
    assert of(rec, "unused-column") == []


def test_read_through_a_child_model(shelf):
    author = Author.objects.get()
    for i in range(25):
        Edition.objects.create(title=f"E{i}", author=author, summary=LONG)
    with djperf.capture() as rec:
        [edition.summary for edition in Edition.objects.all()]
    assert of(rec, "unused-column") == []


def test_watched_until_every_evaluation_has_read_it(shelf):
    # A list that reads the field on every row pays for one watched read.
    with djperf.capture() as rec:
        first = list(Book.objects.all())
        second = list(Book.objects.filter(pk__gt=0))
        assert watched()
        first[0].summary  # noqa: B018
        assert watched()  # `second` has not read it yet
        second[3].summary  # noqa: B018
        assert not watched()
        assert second[4].summary == LONG
    assert of(rec, "unused-column") == []


def test_a_model_with_a_post_init_receiver_is_not_judged(shelf):
    # The receiver reads the column while each row is built, before djperf can watch.
    def snapshot(sender, instance, **kwargs):
        instance.original_summary = instance.summary

    post_init.connect(snapshot, sender=Book)
    try:
        with djperf.capture() as rec:
            [book.title for book in Book.objects.all()]
            [book.title for book in Book.objects.iterator(chunk_size=4)]
    finally:
        post_init.disconnect(snapshot, sender=Book)
    assert of(rec, "unused-column") == []


def test_raw_and_combined_querysets_are_not_judged(shelf):
    # Neither takes a defer().
    with djperf.capture() as rec:
        [b.title for b in Book.objects.raw("SELECT * FROM testapp_book")]
        both = Book.objects.filter(pk__lt=10).union(Book.objects.filter(pk__gte=10))
        [b.title for b in both]
    assert of(rec, "unused-column") == []


def test_loads_from_instances_built_outside_the_capture_are_not_judged(shelf):
    # Their rows came by a lazy load or a prefetch: no defer() at the loop's line.
    from django.db.models import prefetch_related_objects

    from tests.testapp.models import Chapter

    Chapter.objects.bulk_create(Chapter(book=b, title="c") for b in Book.objects.all())
    chapters = list(Chapter.objects.all())
    authors = list(Author.objects.all())
    with djperf.capture() as rec:
        [chapter.book.title for chapter in chapters]
        prefetch_related_objects(authors, "books")
        [book.title for author in authors for book in author.books.all()]
    assert of(rec, "unused-column") == []
