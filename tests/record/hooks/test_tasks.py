"""The tasks hook: each Celery task run inside a capture has a number of its own."""

from __future__ import annotations

import pytest

import djperf
from tests.testapp.models import Book

pytestmark = pytest.mark.django_db

celery = pytest.importorskip("celery")


@pytest.fixture(scope="module")
def title_task():
    app = celery.Celery("djperf-tests", set_as_current=False)
    app.conf.task_always_eager = True

    @app.task
    def title(pk):
        book = Book.objects.get(pk=pk)
        return f"{book.title} by {book.author.name}"

    return title


def test_each_task_run_has_its_own_number(library, title_task):
    pks = list(Book.objects.order_by("pk").values_list("pk", flat=True)[:2])
    with djperf.capture() as rec:
        titles = [title_task.delay(pk).get() for pk in pks]
    assert len(titles) == 2
    reads = [q for q in rec.queries if "testapp_book" in q.sql]
    assert len(reads) == 2
    assert None not in {q.request for q in reads}
    assert len({q.request for q in reads}) == 2
    assert [load.request for load in rec.lazy_loads] == [q.request for q in reads]


def test_a_task_outside_a_capture_is_not_numbered(library, title_task):
    from djperf.record.work import REQUEST

    title_task.delay(Book.objects.values_list("pk", flat=True)[0]).get()
    assert REQUEST.get() is None
