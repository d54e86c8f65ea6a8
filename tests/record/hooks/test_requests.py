"""The requests hook: each request served inside a capture has a number of its own."""

from __future__ import annotations

import pytest

import djperf
from tests.helpers import class_line, of
from tests.testapp.models import Book

VIEWS = "tests/testapp/views.py"

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(settings, library):
    settings.ROOT_URLCONF = "tests.testapp.urls"
    return Book.objects.order_by("pk").values_list("pk", flat=True)[0]


def _book_reads(rec):
    return [
        q for q in rec.queries if q.fingerprint.startswith("SELECT") and "testapp_book" in q.sql
    ]


def test_each_request_has_its_own_number(pages, client):
    with djperf.capture() as rec:
        assert client.get(f"/books/{pages}/").status_code == 200
        assert client.get(f"/books/{pages}/").status_code == 200
    reads = _book_reads(rec)
    assert len(reads) == 2
    assert None not in {q.request for q in reads}
    assert len({q.request for q in reads}) == 2
    # The lazy load of each request's author belongs to that request.
    assert [load.request for load in rec.lazy_loads] == [q.request for q in reads]


def test_the_test_body_between_requests_belongs_to_no_request(pages, client):
    with djperf.capture() as rec:
        client.get(f"/books/{pages}/")
        list(Book.objects.all())
    outside = [q for q in rec.queries if q.request is None]
    assert [q.location.function for q in outside] == [
        "test_the_test_body_between_requests_belongs_to_no_request"
    ]


def test_a_redirect_followed_is_two_requests(pages, client):
    with djperf.capture() as rec:
        response = client.get("/first/", follow=True)
    assert response.status_code == 200
    assert len(response.redirect_chain) == 1
    assert len({q.request for q in rec.queries}) == 2


def test_an_async_request_has_a_number_in_its_worker_threads(pages, async_client):
    from asgiref.sync import async_to_sync

    async def main():
        async with djperf.capture() as rec:
            response = await async_client.get(f"/books/{pages}/")
        return rec, response

    rec, response = async_to_sync(main)()
    assert response.status_code == 200
    reads = _book_reads(rec)
    assert len(reads) == 1 and reads[0].request is not None


def test_requests_outside_a_capture_are_not_numbered(pages, client, monkeypatch):
    from djperf.record import work

    seen = []
    real = work.next_serial
    monkeypatch.setattr(
        "djperf.record.hooks.requests.next_serial", lambda: seen.append(1) or real()
    )
    client.get(f"/books/{pages}/")
    assert seen == []
    with djperf.capture():
        client.get(f"/books/{pages}/")
    assert seen == [1]


def test_work_of_a_view_with_no_code_of_its_own_is_located_at_the_view(pages, client, fakelib):
    with djperf.capture() as rec:
        assert client.get("/feed/").status_code == 200
    loads = rec.lazy_loads
    assert len(loads) == 6
    assert {(str(load.location), load.location.function) for load in loads} == {
        (class_line("BookFeed", VIEWS), "BookFeed")
    }
    [finding] = of(rec, "n-plus-one")
    assert finding.location.path == VIEWS
    assert not finding.in_tests
    assert finding.severity == "warning"


def test_middleware_work_is_not_the_views(pages, client, fakelib, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.fakelib.middleware.CountingMiddleware"]
    with djperf.capture() as rec:
        assert client.get("/feed/").status_code == 200
    counts = [q for q in rec.queries if q.fingerprint.startswith("SELECT COUNT")]
    assert len(counts) == 1
    # Before the view ran: the line that made the request, as for any library work.
    assert counts[0].location.path == "tests/record/hooks/test_requests.py"
    # A middleware hands the request on: its package did not make the query.
    assert (counts[0].via, counts[0].library_call) == (None, None)
