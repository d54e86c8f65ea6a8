"""The columns hook: the WatchedColumn descriptor on a wide column, and what an evaluation
records of it."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

import djperf
from tests.helpers import LONG, watched
from tests.testapp.models import Book

pytestmark = pytest.mark.django_db


def test_values_and_writes_are_unchanged_while_watched(shelf):
    with djperf.capture():
        books = list(Book.objects.all())
        assert watched()
        books[0].summary = "short"
        books[0].save()
        assert books[0].summary == "short"
        assert Book.objects.get(pk=books[0].pk).summary == "short"
        deferred = Book.objects.defer("summary").get(pk=books[1].pk)
        assert deferred.summary == LONG  # Django's own deferred load
    assert not watched()
    assert Book.objects.get(pk=books[0].pk).summary == "short"


def test_a_database_error_in_the_first_row_reaches_the_caller(shelf):
    broken = Book.objects.extra(where=["no_such_column = 1"])
    with djperf.capture(), pytest.raises(DatabaseError):
        list(broken)
    with djperf.capture(), pytest.raises(DatabaseError):
        list(broken.iterator())


def test_the_field_can_be_deleted_while_watched(shelf):
    # Django's way to make a loaded field deferred again.
    with djperf.capture():
        books = list(Book.objects.all())
        assert watched()
        del books[0].summary
        assert "summary" in books[0].get_deferred_fields()
        assert books[0].summary == LONG
        with pytest.raises(AttributeError):
            del books[0].summary
            del books[0].summary


def test_a_fetch_ending_after_the_last_capture_closed_watches_nothing(shelf):
    # As a thread that outlived the capture would: its rows run out afterwards.
    from djperf.record.events import Evaluation
    from djperf.record.hooks import columns

    books = list(Book.objects.all())
    evaluation = Evaluation("testapp.Book", None, (), ())
    with djperf.capture():
        pass
    columns.judge_last_row(books[-1], evaluation, columns.wide_fields(Book))
    assert not watched()
    assert evaluation.wide_columns is None  # never called unused unseen


def test_a_lists_rows_are_built_before_the_field_is_watched(shelf, monkeypatch):
    # Building costs nothing more: the descriptor goes on after the last row.
    from djperf.record.hooks.columns import WatchedColumn

    stores = []
    store = WatchedColumn.__set__

    def counting(self, instance, value):
        stores.append(instance)
        store(self, instance, value)

    monkeypatch.setattr(WatchedColumn, "__set__", counting)
    with djperf.capture():
        list(Book.objects.all())
        assert watched() and stores == []
        list(Book.objects.iterator(chunk_size=5))  # watched already: stores go through it
        assert len(stores) == 25


def test_nothing_is_kept_after_the_captures_close(shelf):
    from djperf.record.hooks import relations

    before = len(relations._described)
    for _ in range(3):
        with djperf.capture():
            list(Book.objects.all())  # watched, never read
            assert Book.objects.defer("summary").first().summary == LONG  # through it
    assert len(relations._described) <= before + 1  # Django's descriptor, once
    assert not watched()
