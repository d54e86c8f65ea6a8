"""djperf.capture(): its options and settings, nested and concurrent scopes, and
scopes entered and exited in unusual ways."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

import djperf
from djperf.record import scope
from tests.testapp.models import Author, Book, Tag

pytestmark = pytest.mark.django_db(databases=["default", "other"])
# Other threads use their own connections: they must see committed data.
committed = pytest.mark.django_db(databases=["default", "other"], transaction=True)


@pytest.fixture(autouse=True)
def _connected():
    # Connecting runs backend set-up statements (MySQL sets the isolation
    # level): do it before the scopes under test, so they see only the test's.
    for alias in ("default", "other"):
        connections[alias].ensure_connection()


@pytest.fixture
def author():
    return Author.objects.create(name="Ann")


# -- options and settings ---------------------------------------------------------


def test_params_only_when_asked(author):
    with djperf.capture(capture_params=True) as rec:
        list(Author.objects.filter(name="Ann"))
    assert rec.queries[0].params == ("Ann",)


def test_params_setting(author, settings):
    settings.DJPERF = {**settings.DJPERF, "CAPTURE_PARAMS": True}
    with djperf.capture() as rec:
        list(Author.objects.filter(name="Ann"))
    assert rec.queries[0].params == ("Ann",)


def test_unknown_setting_is_a_clear_error(settings):
    settings.DJPERF = {**settings.DJPERF, "CAPTURE_PARAM": True}
    with pytest.raises(ValueError, match=r"unknown DJPERF key.*CAPTURE_PARAM"):
        djperf.capture()


def test_no_stacks(author):
    with djperf.capture(stacks=False) as rec:
        list(Author.objects.all())
    assert rec.queries[0].location is None
    assert rec.evaluations[0].location is None


def test_detectors_must_be_a_list():
    with pytest.raises(TypeError, match=r"list of rule ids, e.g. \['n-plus-one'\]"):
        djperf.capture(detectors="n-plus-one")


def test_unknown_detector_is_an_error():
    with pytest.raises(ValueError, match=r"unknown rule id.*no-such-rule"):
        djperf.capture(detectors=["no-such-rule"])


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("LIBRARY_PATHS", None, "must be a list of paths, not NoneType"),
        ("CAPTURE_PARAMS", "yes", "must be True or False, not str"),
        ("STACKS", 1, "must be True or False, not int"),
        ("ROOT", 3, "must be a path, not int"),
        ("MAX_MEMORY_MB", "50", "must be a number of megabytes, or None, not str"),
        ("MAX_MEMORY_MB", True, "must be a number of megabytes, or None, not bool"),
        ("MAX_MEMORY_MB", 0, "must be more than 0, not 0"),
    ],
)
def test_setting_types_are_checked(settings, key, value, message):
    settings.DJPERF = {**settings.DJPERF, key: value}
    with pytest.raises(ValueError, match=message):
        djperf.capture()


# -- scopes -------------------------------------------------------------------


def test_nothing_recorded_outside_a_scope(author):
    with djperf.capture() as rec:
        pass
    list(Author.objects.all())
    assert rec.queries == []
    assert rec.open is False


def test_nested_scopes(author):
    with djperf.capture() as outer:
        list(Author.objects.all())
        with djperf.capture() as inner:
            list(Book.objects.all())
        list(Tag.objects.all())
    assert [q.fingerprint.split(" FROM ")[1][:13] for q in outer.queries] == [
        "testapp_autho",
        "testapp_book",
        "testapp_tag",
    ]
    assert len(inner.queries) == 1
    assert inner.queries[0] is outer.queries[1]


def test_nested_scopes_keep_their_own_params_choice(author):
    with djperf.capture() as outer, djperf.capture(capture_params=True) as inner:
        list(Author.objects.filter(name="Ann"))
    assert inner.queries[0].params == ("Ann",)
    assert outer.queries[0].params is None


def test_a_scope_cannot_be_entered_twice(author):
    scope = djperf.capture()
    with scope:
        pass
    with pytest.raises(RuntimeError, match="entered twice"):
        scope.__enter__()


def test_duration_is_measured(author):
    with djperf.capture() as rec:
        list(Author.objects.all())
    assert rec.duration > 0


def test_scope_exits_on_error(author):
    with pytest.raises(ZeroDivisionError), djperf.capture() as rec:
        list(Author.objects.all())
        1 / 0  # noqa: B018
    assert scope.ACTIVE.get() == ()
    assert len(rec.queries) == 1


def test_djperf_does_not_change_the_queries(author):
    Book.objects.create(title="T", author=author)

    def work():
        for book in Book.objects.all():
            book.author.name  # noqa: B018
        list(Author.objects.prefetch_related("books"))

    with CaptureQueriesContext(connection) as bare:
        work()
    with CaptureQueriesContext(connection) as captured, djperf.capture() as rec:
        work()
    assert [q["sql"] for q in captured.captured_queries] == [
        q["sql"] for q in bare.captured_queries
    ]
    assert len(rec.queries) == len(bare.captured_queries)


# -- isolation ---------------------------------------------------------------


@committed
def test_other_threads_are_not_captured(author):
    started = threading.Event()
    finish = threading.Event()

    def elsewhere():
        started.set()
        finish.wait(5)
        list(Tag.objects.all())
        connections.close_all()

    thread = threading.Thread(target=elsewhere)
    with djperf.capture() as rec:
        thread.start()
        started.wait(5)
        finish.set()
        thread.join(5)
        list(Author.objects.all())
    assert [q for q in rec.queries if "testapp_tag" in q.sql] == []
    assert len(rec.queries) == 1


@committed
def test_two_threads_capture_concurrently(author):
    results: dict[str, list[str]] = {}
    barrier = threading.Barrier(2)

    def run(name, model):
        with djperf.capture() as rec:
            barrier.wait(5)
            for _ in range(5):
                list(model.objects.all())
        results[name] = [q.sql for q in rec.queries]
        connections.close_all()

    threads = [
        threading.Thread(target=run, args=("authors", Author)),
        threading.Thread(target=run, args=("tags", Tag)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results["authors"]) == 5
    assert all("testapp_author" in s for s in results["authors"])
    assert len(results["tags"]) == 5
    assert all("testapp_tag" in s for s in results["tags"])


def test_async_with_and_tasks_are_isolated(author):
    async def fetch(model, rounds, gate):
        async with djperf.capture() as rec:
            await gate.wait()
            for _ in range(rounds):
                await model.objects.acount()
                await asyncio.sleep(0)
        return rec

    async def main():
        gate = asyncio.Event()
        first = asyncio.create_task(fetch(Author, 3, gate))
        second = asyncio.create_task(fetch(Tag, 4, gate))
        await asyncio.sleep(0)
        gate.set()
        return await first, await second

    first, second = async_to_sync(main)()
    assert len(first.queries) == 3
    assert all("testapp_author" in q.sql for q in first.queries)
    assert len(second.queries) == 4
    assert all("testapp_tag" in q.sql for q in second.queries)


def test_task_outliving_its_scope_is_ignored(author):
    async def main():
        gate = asyncio.Event()

        async def late():
            await gate.wait()
            await Author.objects.acount()

        async with djperf.capture() as rec:
            task = asyncio.create_task(late())
        gate.set()
        await task
        return rec

    rec = async_to_sync(main)()
    assert rec.queries == []


# -- scopes exited elsewhere or out of order ---------------------------------------


def test_exit_in_another_task(author):
    # An async fixture's set-up and teardown run in different tasks.
    async def main():
        scope = djperf.capture()
        await asyncio.create_task(scope.__aenter__())
        list_authors = Author.objects.acount()
        await list_authors
        await asyncio.create_task(scope.__aexit__(None, None, None))
        return scope.recording

    rec = async_to_sync(main)()
    assert rec.open is False
    assert scope.ACTIVE.get() == ()


def test_scopes_exited_out_of_order(author):
    outer = djperf.capture()
    inner = djperf.capture()
    outer_rec = outer.__enter__()
    inner_rec = inner.__enter__()
    outer.__exit__(None, None, None)
    list(Author.objects.all())
    inner.__exit__(None, None, None)
    assert scope.ACTIVE.get() == ()
    assert len(inner_rec.queries) == 1
    assert outer_rec.queries == []


def test_closed_scopes_leave_the_hooks_idle(author):
    async def main():
        gate = asyncio.Event()

        async def late():
            await gate.wait()
            # The scope this task was born in has exited: nothing is recorded
            # or tagged, as if no capture were active.
            return [a async for a in Author.objects.all()]

        async with djperf.capture() as rec:
            task = asyncio.create_task(late())
        gate.set()
        return rec, await task

    rec, authors = async_to_sync(main)()
    assert rec.evaluations == []
    assert djperf.provenance_of(authors[0]) is None
