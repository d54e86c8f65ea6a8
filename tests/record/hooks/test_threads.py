"""The threads hook: an ``await`` that hops to a worker thread (asgiref's
SyncToAsync and its subclasses) is recorded, at the user's line."""

from __future__ import annotations

import pytest
from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async
from django.db import connections

import djperf
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db(databases=["default", "other"])

HERE = "tests/record/hooks/test_threads.py"


@pytest.fixture(autouse=True)
def _connected():
    # Connecting runs backend set-up statements (MySQL sets the isolation
    # level): do it before the scopes under test, so they see only the test's.
    for alias in ("default", "other"):
        connections[alias].ensure_connection()


@pytest.fixture
def author():
    return Author.objects.create(name="Ann")


def _line_of(marker: str) -> int:
    with open(__file__) as source:
        for number, line in enumerate(source, start=1):
            if marker in line and "_line_of" not in line:
                return number
    raise AssertionError(marker)


def test_sync_to_async_hop_belongs_to_the_capturing_task(author):
    def blocking_lookup():
        return Author.objects.get(pk=author.pk)

    async def view():
        async with djperf.capture() as rec:
            await sync_to_async(blocking_lookup)()
            await Author.objects.aget(pk=author.pk)  # marker: aget-line
        return rec

    rec = async_to_sync(view)()
    assert len(rec.queries) == 2
    # In the worker thread the user frame is blocking_lookup itself...
    assert rec.queries[0].location.function == "blocking_lookup"
    # ...and for Django's own async method it is the awaiting line.
    assert str(rec.queries[1].location) == f"{HERE}:{_line_of('marker: aget-line')}"


def test_database_sync_to_async_style_subclass(author):
    class DatabaseSyncToAsync(SyncToAsync):
        """Like channels' database_sync_to_async: a SyncToAsync subclass."""

    def lookup():
        return list(Author.objects.all())

    async def view():
        async with djperf.capture() as rec:
            await DatabaseSyncToAsync(lookup)()
        return rec

    rec = async_to_sync(view)()
    assert len(rec.queries) == 1
