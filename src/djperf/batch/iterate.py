"""djperf.batched() and abatched(): a queryset's rows in lists, one query each.

    for books in djperf.batched(Book.objects.filter(in_print=True), size=1000):
        ...  # a list of up to 1000 books

With a checkpoint, a batch counts as done when the loop asks for the next one
(the caller's work on it is finished): a killed run resumes after the last
batch the caller finished, and the batch it was working on is handed out
again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from djperf.batch.checkpoint import Checkpoint
from djperf.batch.job import Job, write_alias
from djperf.batch.keyset import Plan

if TYPE_CHECKING:
    from django.db.models import QuerySet


def batched(
    queryset: QuerySet[Any],
    size: int = 1000,
    *,
    key: str | Sequence[str] | None = None,
    checkpoint: Checkpoint | None = None,
    progress: bool | IO[str] | None = None,
    total: int | None = None,
) -> Iterator[list[Any]]:
    """The rows of `queryset` in lists of at most `size`, in key order, one
    query per batch (docs/batch.md). The queryset, key and size are checked at
    once, before the first batch is asked for."""
    plan = Plan(queryset, size, key)
    # The checkpoint's table (if any) goes where Django writes the model.
    return _pages(Job(plan, "batched", write_alias(queryset), checkpoint, progress, total))


def _pages(job: Job) -> Iterator[list[Any]]:
    plan = job.plan
    last = job.resume()
    with job.progress:
        while True:
            rows = list(plan.page(last))
            if not rows:
                break
            last = plan.last_key(rows)
            yield rows
            job.finished(last, len(rows), 0)
            if len(rows) < plan.size:
                break
    job.complete()


def abatched(
    queryset: QuerySet[Any],
    size: int = 1000,
    *,
    key: str | Sequence[str] | None = None,
    checkpoint: Checkpoint | None = None,
    progress: bool | IO[str] | None = None,
    total: int | None = None,
) -> AsyncIterator[list[Any]]:
    """``batched()`` for async code: ``async for books in djperf.abatched(qs): ...``
    (a checkpoint or a progress total is read and written in a thread)."""
    plan = Plan(queryset, size, key)
    return _apages(plan, write_alias(queryset), checkpoint, progress, total)


async def _apages(
    plan: Plan,
    using: str,
    checkpoint: Checkpoint | None,
    progress: bool | IO[str] | None,
    total: int | None,
) -> AsyncIterator[list[Any]]:
    from asgiref.sync import sync_to_async

    job = await sync_to_async(Job)(plan, "batched", using, checkpoint, progress, total)
    last = await sync_to_async(job.resume)()
    with job.progress:
        while True:
            rows = [row async for row in plan.page(last)]
            if not rows:
                break
            last = plan.last_key(rows)
            yield rows
            if checkpoint is not None:
                await sync_to_async(job.finished)(last, len(rows), 0)
            else:
                job.finished(last, len(rows), 0)
            if len(rows) < plan.size:
                break
    if checkpoint is not None:
        await sync_to_async(job.complete)()
