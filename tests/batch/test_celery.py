"""djperf.batch.celery: chunks as tasks on a real worker, RabbitMQ as broker,
Redis as result backend; a failed chunk resumes, finished ones do not rerun."""

from __future__ import annotations

import os
import socket
import uuid

import pytest
from django.db import connection, connections

from djperf.batch import BatchError
from djperf.batch.checkpoint import TABLE
from tests.batch import jobs
from tests.testapp.models import Author, Book, Review

celery = pytest.importorskip("celery")

BROKER = os.environ.get("DJPERF_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
BACKEND = os.environ.get("DJPERF_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def running_worker():
    """A Celery app on RabbitMQ and Redis, with a worker thread consuming a
    queue of this module's own (deleted when the worker stops); started once
    for the module's tests, as a worker takes seconds to start and stop."""
    missing = [name for name, port in (("RabbitMQ", 5672), ("Redis", 6379)) if not _reachable(port)]
    if missing:
        reason = f"{' and '.join(missing)} not reachable on 127.0.0.1"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} [CI=true: a missing server is a failure]")
        pytest.skip(reason)
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from kombu import Queue

    import djperf.batch.celery  # noqa: F401  (registers the task)

    queue = f"djperf-test-{uuid.uuid4().hex[:10]}"  # this run's alone
    # No Django fix-up: at worker start it runs Django's system checks, which
    # open a database connection outside any test (pytest-django refuses);
    # the one thing of it the tests need, closing connections, is below.
    app = celery.Celery("djperf-batch-tests", broker=BROKER, backend=BACKEND, fixups=[])
    app.conf.task_queues = [Queue(queue, auto_delete=True)]
    app.conf.task_default_queue = queue
    app.conf.result_expires = 300
    app.conf.broker_heartbeat = 0

    def close_connections(**kwargs):
        # The worker thread's connections, as Celery's Django fix-up closes
        # them: PostgreSQL will not drop a test database still in use.
        connections.close_all()

    task_postrun.connect(close_connections, weak=False)
    app.set_current()
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        task_postrun.disconnect(close_connections)


@pytest.fixture
def worker(running_worker):
    running_worker.set_current()
    yield running_worker
    jobs.FAIL_ON.clear()


@pytest.fixture
def reviews(transactional_db):
    author = Author.objects.create(name="A")
    book = Book.objects.create(title="B", author=author)
    return [Review.objects.create(book=book, rating=0) for _ in range(40)]


def _run(name, kind, **options):
    from djperf.batch.celery import update_in_tasks

    result = update_in_tasks(
        "tests.batch.jobs.reviews",
        "tests.batch.jobs.increment",
        ["rating"],
        name=name,
        chunks=4,
        size=4,
        checkpoint=kind,
        **options,
    )
    try:
        return result.join(timeout=60, propagate=False)
    finally:
        result.forget()


@pytest.mark.parametrize("kind", ["table", "cache"])
def test_a_failed_chunk_resumes_and_finished_chunks_do_not_run_again(
    worker, reviews, checkpoint_table, kind
):
    name = f"djperf-test-{uuid.uuid4().hex[:8]}"
    jobs.FAIL_ON.add(reviews[24].pk)  # the fifth row of the third chunk
    first = _run(name, kind)
    failed = [outcome for outcome in first if isinstance(outcome, Exception)]
    assert [str(error) for error in failed] == [f"failed on review {reviews[24].pk}"]
    # Three chunks of 10, and the failed chunk's first batch of 4.
    assert sorted(r for r in Review.objects.values_list("rating", flat=True)) == [0] * 6 + [1] * 34

    jobs.FAIL_ON.clear()
    second = _run(name, kind)
    assert sorted((c["chunk"], c["rows"], c["resumed_after"]) for c in second) == [
        (0, 0, 10),
        (1, 0, 10),
        (2, 6, 4),
        (3, 0, 10),
    ]
    assert set(Review.objects.values_list("rating", flat=True)) == {1}

    # All chunks finished: the next call is a new job ...
    third = _run(name, kind)
    assert sum(c["rows"] for c in third) == 40
    assert set(Review.objects.values_list("rating", flat=True)) == {2}
    # ... and forget() removes its checkpoints.
    from djperf.batch.celery import forget

    forget(name, checkpoint=kind)
    if kind == "table":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(TABLE)}")
            assert cursor.fetchone() == (0,)
    else:
        from django.core.cache import cache

        assert cache.get(f"djperf:batch:{name}") is None
        assert cache.get(f"djperf:batch:{name}.2") is None


def test_paths_and_options_are_checked_before_any_task_is_sent(db):
    from djperf.batch.celery import update_in_tasks

    with pytest.raises(BatchError, match="not an importable function"):
        update_in_tasks(
            "tests.batch.jobs.nothing", "tests.batch.jobs.increment", ["rating"], name="x"
        )
    with pytest.raises(BatchError, match="not an importable function"):
        update_in_tasks("tests.batch.jobs.reviews", "nowhere.fn", ["rating"], name="x")
    with pytest.raises(BatchError, match="checkpoint must be one of"):
        update_in_tasks(
            "tests.batch.jobs.reviews",
            "tests.batch.jobs.increment",
            ["rating"],
            name="x",
            checkpoint="file",
        )
    with pytest.raises(BatchError, match="chunks must be"):
        update_in_tasks(
            "tests.batch.jobs.reviews", "tests.batch.jobs.increment", ["rating"], name="x", chunks=0
        )


@pytest.fixture
def eager():
    """Tasks run in the caller (no broker): for what happens before and
    around the tasks; the worker test above runs them for real."""
    import djperf.batch.celery  # noqa: F401  (registers the task)

    app = celery.Celery("djperf-batch-eager", set_as_current=False)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    previous = celery.current_app._get_current_object()
    app.set_current()
    try:
        yield app
    finally:
        previous.set_current()
        jobs.FAIL_ON.clear()


def _eager(name, chunks=4, fn="tests.batch.jobs.increment", queryset="tests.batch.jobs.reviews"):
    from djperf.batch.celery import update_in_tasks

    result = update_in_tasks(queryset, fn, ["rating"], name=name, chunks=chunks, size=2)
    return sorted((c["chunk"], c["rows"]) for c in result.join())


def test_an_empty_table_is_one_chunk_of_nothing(eager, transactional_db, checkpoint_table):
    assert _eager("empty") == [(0, 0)]


def test_chunks_as_asked_with_row_counts_a_row_apart(eager, reviews, checkpoint_table):
    Review.objects.filter(pk__in=[r.pk for r in reviews[9:]]).delete()
    assert _eager("nine") == [(0, 2), (1, 2), (2, 2), (3, 3)]
    assert _eager("few", chunks=20) == [(index, 1) for index in range(9)]


def test_a_name_of_another_job_is_refused(eager, reviews, checkpoint_table):
    from djperf.batch.celery import forget

    jobs.FAIL_ON.add(reviews[25].pk)
    with pytest.raises(RuntimeError):
        _eager("shared")
    jobs.FAIL_ON.clear()
    with pytest.raises(BatchError, match="names a job of another queryset"):
        _eager("shared", fn="tests.batch.jobs.double")
    forget("shared")
    assert sum(rows for _chunk, rows in _eager("shared", fn="tests.batch.jobs.double")) == 40


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_checkpoints_go_where_the_rows_are_written(eager, checkpoint_table):
    from django.db import connections

    author = Author.objects.using("other").create(name="A")
    book = Book.objects.using("other").create(title="B", author=author)
    for _ in range(6):
        Review.objects.using("other").create(book=book, rating=0)
    jobs.FAIL_ON.add(Review.objects.using("other").order_by("pk")[4].pk)
    with pytest.raises(RuntimeError):
        _eager("elsewhere", chunks=2, queryset="tests.batch.jobs.reviews_elsewhere")
    other = connections["other"]
    try:
        assert TABLE in other.introspection.table_names()
        assert TABLE not in connection.introspection.table_names()
    finally:
        with other.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {other.ops.quote_name(TABLE)}")
