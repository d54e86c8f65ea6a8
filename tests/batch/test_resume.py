"""Checkpoints: a stopped job continues after its last finished batch; a
SIGKILLed one too (in a process of its own, tests/batch/killed_job.py)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management.base import OutputWrapper
from django.db import connection, connections, transaction

import djperf
from djperf.batch import BatchError, CacheCheckpoint, FileCheckpoint, TableCheckpoint
from djperf.batch.checkpoint import TABLE
from tests.testapp.models import Author, Book, Publisher, Review, Stock

JOB = Path(__file__).with_name("killed_job.py")


@pytest.fixture
def reviews(transactional_db):
    author = Author.objects.create(name="A")
    book = Book.objects.create(title="B", author=author)
    return [Review.objects.create(book=book, rating=0) for _ in range(23)]


@pytest.fixture(params=["file", "cache", "table"])
def checkpoint(request, tmp_path):
    name = f"djperf-test-{uuid.uuid4().hex[:8]}"
    if request.param == "file":
        return FileCheckpoint(tmp_path / "job.json")
    if request.param == "cache":
        return CacheCheckpoint(name)
    request.getfixturevalue("checkpoint_table")
    return TableCheckpoint(name)


def _increment(fail_at=None):
    def fn(review):
        if review.pk == fail_at:
            raise RuntimeError("stopped")
        review.rating += 1

    return fn


def test_a_stopped_update_continues_after_its_last_batch(reviews, checkpoint):
    with pytest.raises(RuntimeError, match="stopped"):
        djperf.update_in_batches(
            Review.objects.all(), _increment(reviews[12].pk), ["rating"], 5, checkpoint=checkpoint
        )
    assert checkpoint.load() is not None
    result = djperf.update_in_batches(
        Review.objects.all(), _increment(), ["rating"], 5, checkpoint=checkpoint
    )
    assert (result.resumed_after, result.rows, result.written) == (10, 13, 13)
    # Every row once: the two committed batches were not read again.
    assert sorted(Review.objects.values_list("rating", flat=True)) == [1] * 23
    # Finished: cleared, so the next run starts at the top.
    assert checkpoint.load() is None
    again = djperf.update_in_batches(
        Review.objects.all(), _increment(), ["rating"], 5, checkpoint=checkpoint
    )
    assert (again.resumed_after, again.rows) == (0, 23)


def test_batched_resumes_with_the_batch_the_caller_had_not_finished(reviews, tmp_path):
    checkpoint = FileCheckpoint(tmp_path / "read.json")
    seen = []
    for batch in djperf.batched(Review.objects.all(), 5, checkpoint=checkpoint):
        seen.append([r.pk for r in batch])
        if len(seen) == 2:
            break  # the second batch was handed out, never finished
    rest = [
        [r.pk for r in b] for b in djperf.batched(Review.objects.all(), 5, checkpoint=checkpoint)
    ]
    assert rest[0] == seen[1]
    assert [pk for b in [seen[0], *rest] for pk in b] == [r.pk for r in reviews]
    assert not checkpoint.path.exists()


def test_abatched_resumes_too(reviews, tmp_path):
    checkpoint = FileCheckpoint(tmp_path / "read.json")

    async def first_two_then_stop():
        seen = 0
        try:
            async for _batch in djperf.abatched(Review.objects.all(), 10, checkpoint=checkpoint):
                seen += 1
                if seen == 2:
                    break
        finally:
            # The thread the ORM ran in keeps its connection: close it.
            await sync_to_async(connections.close_all)()

    async def rest():
        batches = djperf.abatched(Review.objects.all(), 10, checkpoint=checkpoint)
        try:
            return [review async for batch in batches for review in batch]
        finally:
            await sync_to_async(connections.close_all)()

    asyncio.run(first_two_then_stop())
    assert json.loads(checkpoint.path.read_text())["rows"] == 10
    assert [r.pk for r in asyncio.run(rest())] == [r.pk for r in reviews[10:]]
    assert not checkpoint.path.exists()


def test_a_stopped_delete_continues(reviews, tmp_path):
    checkpoint = FileCheckpoint(tmp_path / "purge.json")

    def stop_third_batch(sender, instance, **kwargs):
        if instance.pk == reviews[12].pk:
            raise RuntimeError("stopped")

    from django.db.models.signals import pre_delete

    pre_delete.connect(stop_third_batch, sender=Review)
    try:
        with pytest.raises(RuntimeError):
            djperf.delete_in_batches(Review.objects.all(), 5, checkpoint=checkpoint)
    finally:
        pre_delete.disconnect(stop_third_batch, sender=Review)
    assert Review.objects.count() == 13
    result = djperf.delete_in_batches(Review.objects.all(), 5, checkpoint=checkpoint)
    assert (result.resumed_after, result.written, Review.objects.count()) == (10, 13, 0)


def test_another_jobs_checkpoint_is_refused(reviews, tmp_path):
    checkpoint = FileCheckpoint(tmp_path / "job.json")
    with pytest.raises(RuntimeError):
        djperf.update_in_batches(
            Review.objects.all(), _increment(reviews[7].pk), ["rating"], 5, checkpoint=checkpoint
        )
    with pytest.raises(BatchError, match="written by another job"):
        djperf.update_in_batches(
            Review.objects.filter(rating__gte=0), _increment(), ["rating"], 5, checkpoint=checkpoint
        )
    with pytest.raises(BatchError, match="written by another job"):
        djperf.delete_in_batches(Review.objects.all(), 5, checkpoint=checkpoint)


def test_a_checkpoint_inside_a_transaction_is_refused(reviews, tmp_path):
    with transaction.atomic(), pytest.raises(BatchError, match=r"outside transaction\.atomic"):
        djperf.update_in_batches(
            Review.objects.all(),
            _increment(),
            ["rating"],
            checkpoint=FileCheckpoint(tmp_path / "x"),
        )
    with pytest.raises(BatchError, match="FileCheckpoint, CacheCheckpoint or TableCheckpoint"):
        djperf.update_in_batches(Review.objects.all(), _increment(), ["rating"], checkpoint="x")


def test_a_key_of_a_foreign_key_and_text_survives_the_checkpoint(transactional_db, tmp_path):
    """The key is written as JSON and read back by its fields' own parsing."""
    publishers = [Publisher.objects.create(name=f"P{i}") for i in range(2)]
    for publisher in publishers:
        for sku in "abc":
            Stock.objects.create(partner=publisher, sku=sku, code=f"{publisher.pk}{sku}")
    checkpoint = FileCheckpoint(tmp_path / "job.json")
    key = ("-partner", "sku")
    order = [
        (s.partner_id, s.sku) for b in djperf.batched(Stock.objects.all(), 4, key=key) for s in b
    ]
    first = []
    for batch in djperf.batched(Stock.objects.all(), 2, key=key, checkpoint=checkpoint):
        first.append(batch)
        if len(first) == 2:
            break
    assert json.loads(checkpoint.path.read_text())["last"] == [publishers[1].pk, "b"]
    rest = [
        (s.partner_id, s.sku)
        for b in djperf.batched(Stock.objects.all(), 2, key=key, checkpoint=checkpoint)
        for s in b
    ]
    assert rest == order[2:]


# -- the progress bar --------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_drawn_on_a_terminal_with_rows_done_of_the_total(reviews):
    screen = Terminal()
    djperf.update_in_batches(Review.objects.all(), _increment(), ["rating"], 5, progress=screen)
    drawn = screen.getvalue()
    assert "23/23" in drawn
    assert "rows" in drawn


def test_progress_in_a_management_command_draws_on_the_stream_it_wraps(reviews):
    screen = Terminal()
    for _ in djperf.batched(Review.objects.all(), 10, progress=OutputWrapper(screen)):
        pass
    assert "23/23" in screen.getvalue()


def test_progress_is_quiet_when_the_output_is_not_a_terminal(reviews):
    log = io.StringIO()
    djperf.delete_in_batches(Review.objects.all(), 5, progress=log)
    assert log.getvalue() == ""
    assert Review.objects.count() == 0


# -- SIGKILL -----------------------------------------------------------------------


def _database(tmp_path):
    """Settings for the killed job: this test database (committed rows are
    visible to another process), or a SQLite file (the suite's is in memory)."""
    settings = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        return {"ENGINE": settings["ENGINE"], "NAME": str(tmp_path / "killed.sqlite3")}
    return {
        key: settings[key] for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")
    } | {"OPTIONS": settings.get("OPTIONS", {})}


def _job(setup, step):
    return subprocess.run(
        [sys.executable, str(JOB), json.dumps(setup), step],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ""},
    )


@pytest.mark.parametrize(
    ("kind", "kill", "done_before"),
    [
        ("table", {"kill_at": 20}, 20),
        ("table", {"kill_at": 25}, 20),
        # Killed while saving batch 3's position: in the batch's transaction,
        # so batch 3 rolls back with it and runs again, once.
        ("table", {"kill_in_save": 3}, 20),
        ("file", {"kill_at": 25}, 20),
        ("cache", {"kill_at": 25}, 20),
    ],
    ids=[
        "table-between-batches",
        "table-mid-batch",
        "table-while-saving",
        "file-mid-batch",
        "cache-mid-batch",
    ],
)
def test_a_sigkilled_job_resumes_and_writes_every_row_exactly_once(
    transactional_db, checkpoint_table, tmp_path, kind, kill, done_before, request
):
    name = f"djperf-test-{uuid.uuid4().hex[:8]}"
    if kind == "cache":
        request.getfixturevalue("redis_client")
    where = str(tmp_path / "job.json") if kind == "file" else name
    setup = {"database": _database(tmp_path), "checkpoint": [kind, where], "rows": 47, "size": 10}
    seeded = _job(setup, "seed")
    assert seeded.returncode == 0, seeded.stderr
    killed = _job({**setup, **kill}, "run")
    assert killed.returncode == -9, killed.stderr
    resumed = _job(setup, "run")
    assert resumed.returncode == 0, resumed.stderr
    # The batches committed before the kill are not read again ...
    assert json.loads(resumed.stdout) == {"rows": 47 - done_before, "resumed_after": done_before}
    # ... and every row was incremented once (a second pass would make it 2).
    assert json.loads(_job(setup, "values").stdout) == [1] * 47


def test_a_file_checkpoint_lost_after_a_commit_runs_that_batch_again(transactional_db, tmp_path):
    """The documented limit: killed between a batch's commit and the file's
    save, the job runs that batch again; an idempotent fn makes it harmless."""
    setup = {
        "database": _database(tmp_path),
        "checkpoint": ["file", str(tmp_path / "job.json")],
        "rows": 30,
        "size": 10,
        "idempotent": True,
    }
    assert _job(setup, "seed").returncode == 0
    killed = _job({**setup, "kill_in_save": 2}, "run")  # after batch 2 committed
    assert killed.returncode == -9, killed.stderr
    resumed = _job(setup, "run")
    assert json.loads(resumed.stdout) == {"rows": 20, "resumed_after": 10}
    # Batch 2 ran twice; the values are right all the same.
    assert json.loads(_job(setup, "values").stdout) == list(range(1, 31))


def test_batched_keeps_its_place_in_a_table_checkpoint_too(reviews, checkpoint_table):
    checkpoint = TableCheckpoint(f"djperf-test-{uuid.uuid4().hex[:8]}")
    for _batch in djperf.batched(Review.objects.all(), 5, checkpoint=checkpoint):
        break  # handed out, never finished
    for index, _batch in enumerate(djperf.batched(Review.objects.all(), 5, checkpoint=checkpoint)):
        if index == 1:
            break  # the first finished, the second not
    assert checkpoint.load()["rows"] == 5
    rest = [r.pk for b in djperf.batched(Review.objects.all(), 5, checkpoint=checkpoint) for r in b]
    assert rest == [r.pk for r in reviews[5:]]


@pytest.mark.parametrize("direction", ["", "-"])
def test_a_date_time_key_resumes_to_the_microsecond(transactional_db, tmp_path, direction):
    """Rows a microsecond apart (DjangoJSONEncoder would keep milliseconds:
    the resumed run would read some again, or skip them)."""
    import datetime

    from django.utils import timezone

    publisher = Publisher.objects.create(name="P")
    base = timezone.now().replace(microsecond=0)
    for i in range(6):
        stock = Stock.objects.create(partner=publisher, sku=f"s{i}", code=f"c{i}")
        Stock.objects.filter(pk=stock.pk).update(updated=base + datetime.timedelta(microseconds=i))
    key = (f"{direction}updated", f"{direction}pk")
    order = [s.pk for b in djperf.batched(Stock.objects.all(), 6, key=key) for s in b]
    checkpoint = FileCheckpoint(tmp_path / "job.json")
    for index, _batch in enumerate(
        djperf.batched(Stock.objects.all(), 2, key=key, checkpoint=checkpoint)
    ):
        if index == 1:
            break
    rest = [
        s.pk
        for b in djperf.batched(Stock.objects.all(), 2, key=key, checkpoint=checkpoint)
        for s in b
    ]
    assert rest == order[2:]


def test_a_queryset_that_matches_nothing_runs_with_a_checkpoint(transactional_db, tmp_path):
    checkpoint = FileCheckpoint(tmp_path / "job.json")
    result = djperf.update_in_batches(
        Review.objects.filter(pk__in=[]), _increment(), ["rating"], checkpoint=checkpoint
    )
    assert (result.rows, result.batches) == (0, 0)
    assert list(djperf.batched(Review.objects.none(), checkpoint=checkpoint)) == []
    assert djperf.delete_in_batches(Review.objects.none(), checkpoint=checkpoint).rows == 0


def test_a_second_run_of_the_same_job_at_the_same_time_is_stopped(
    transactional_db, checkpoint_table
):
    """Compare and set: each run saves over what it last read or wrote."""
    name = f"djperf-test-{uuid.uuid4().hex[:8]}"
    first, second = TableCheckpoint(name), TableCheckpoint(name)
    for run in (first, second):
        run.prepare("default")
        assert run.load() is None
    first.save({"job": "j", "last": [1], "rows": 1})
    with pytest.raises(BatchError, match="another run of this job"):
        second.save({"job": "j", "last": [1], "rows": 1})  # both started at the top
    second.load()
    first.save({"job": "j", "last": [2], "rows": 2})
    with pytest.raises(BatchError, match="another run of this job"):
        second.save({"job": "j", "last": [2], "rows": 2})  # it read position 1
    assert first.load()["last"] == [2]


@pytest.mark.skipif(
    os.environ.get("DJPERF_TEST_DB") != "postgres",
    reason="PostgreSQL: two concurrent CREATE TABLE IF NOT EXISTS can collide",
)
def test_workers_making_the_checkpoint_table_at_once_all_go_on(transactional_db, checkpoint_table):
    import threading

    errors = []

    def first_use(barrier):
        try:
            barrier.wait()
            TableCheckpoint("djperf-test").prepare("default")
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    for _round in range(5):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(TABLE)}")
        barrier = threading.Barrier(4)
        workers = [threading.Thread(target=first_use, args=(barrier,)) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert errors == []
