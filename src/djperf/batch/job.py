"""What every batch job shares: its position (resumed from and saved to a
checkpoint), its progress bar and its counts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from djperf.batch.checkpoint import Checkpoint, decode, encode, job_id
from djperf.batch.keyset import BatchError, Plan
from djperf.batch.progress import Progress

if TYPE_CHECKING:
    from django.db.models import QuerySet


@dataclass(frozen=True)
class BatchResult:
    """What a batch job did in this run."""

    #: Batches read (each one query, and one write for the writing jobs).
    batches: int
    #: Rows read.
    rows: int
    #: Rows written: updated by update_in_batches(), deleted (cascades
    #: included) by delete_in_batches().
    written: int
    #: Rows a killed run had already finished (0 when it started at the top).
    resumed_after: int = 0
    #: delete_in_batches(): rows deleted per model label, as QuerySet.delete().
    deleted: dict[str, int] | None = None


def write_alias(queryset: QuerySet[Any]) -> str:
    """The database the caller chose with using(), or where Django writes the
    model: where a job's writes and its table checkpoint go (never a read
    replica, which may lag or refuse writes)."""
    from django.db import router

    chosen: str | None = getattr(queryset, "_db", None)
    return chosen or router.db_for_write(queryset.model)


class Job:
    """One run of a batch job over `plan`."""

    def __init__(
        self,
        plan: Plan,
        kind: str,
        using: str,
        checkpoint: Checkpoint | None,
        progress: bool | IO[str] | None,
        total: int | None,
    ) -> None:
        if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
            raise BatchError(
                "checkpoint must be a FileCheckpoint, CacheCheckpoint or TableCheckpoint "
                f"(djperf.batch), not {checkpoint!r}"
            )
        self.plan = plan
        self.using = using
        self.checkpoint = checkpoint
        self.id = job_id(plan.ordered, plan.key.names, kind) if checkpoint else ""
        self.rows = self.written = self.batches = 0
        self.before = 0
        self.deleted: dict[str, int] = {}
        self.progress = Progress(progress, total, kind)
        self._count_rows = total is None

    @property
    def saves_in_transaction(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.in_transaction

    def resume(self) -> tuple[Any, ...] | None:
        """The key to start after: the checkpoint's, or None (from the top)."""
        from django.db import connections

        if self.checkpoint is not None and connections[self.using].in_atomic_block:
            raise BatchError(
                "a job with a checkpoint commits batch by batch: run it outside "
                "transaction.atomic() (inside one, a kill would roll every batch back "
                "while the checkpoint says they were done)"
            )
        last = self._resumed()
        if self.progress.drawing and self._count_rows:
            # The rows this run has ahead of it (one COUNT, and only when a
            # bar is drawn): right for jobs whose queryset shrinks too.
            rows = (
                self.plan.ordered
                if last is None
                else self.plan.ordered.filter(self.plan.key.after(last))
            )
            self.progress.set_total(rows.order_by().count())
        return last

    def _resumed(self) -> tuple[Any, ...] | None:
        if self.checkpoint is None:
            return None
        self.checkpoint.prepare(self.using)
        state = self.checkpoint.load()
        if state is None:
            return None
        if state.get("job") != self.id:
            raise BatchError(
                f"{self.checkpoint!r} was written by another job (another queryset, key "
                "or kind of job); clear it or give this job a checkpoint of its own"
            )
        self.before = int(state.get("rows", 0))
        fields = [self.plan.ordered.model._meta.get_field(name) for name in self.plan.key.names]
        return decode(state["last"], fields)

    def write_batches(
        self, step: Callable[[list[Any]], tuple[int, Mapping[str, int]]]
    ) -> BatchResult:
        """Each batch read and passed to `step` (which writes it and says how
        many rows it wrote, and per model) in one transaction, the position
        saved with it when the checkpoint can be; then the job's counts."""
        from django.db import transaction

        plan = self.plan
        last = self.resume()
        with self.progress:
            while True:
                with transaction.atomic(using=self.using):
                    rows = list(plan.page(last))
                    if not rows:
                        break
                    written, per_model = step(rows)
                    last = plan.last_key(rows)
                    if self.saves_in_transaction:
                        self.save_in_transaction(last, len(rows), written)
                for label, count in per_model.items():
                    self.deleted[label] = self.deleted.get(label, 0) + count
                self.finished(last, len(rows), written, saved=self.saves_in_transaction)
                if len(rows) < plan.size:
                    break
        return self.complete()

    def finished(
        self, last: tuple[Any, ...], rows: int, written: int, *, saved: bool = False
    ) -> None:
        """A batch is done: count it, and save the position unless it was
        saved in the batch's own transaction (`saved`)."""
        self.batches += 1
        self.rows += rows
        self.written += written
        if self.checkpoint is not None and not saved:
            self.checkpoint.save(self._state(last))
        self.progress.advance(rows)

    def save_in_transaction(self, last: tuple[Any, ...], rows: int, written: int) -> None:
        """The position after this batch, written with the batch's own rows."""
        assert self.checkpoint is not None
        state = self._state(last)
        state["rows"] += rows
        self.checkpoint.save(state)

    def _state(self, last: tuple[Any, ...]) -> dict[str, Any]:
        return {
            "job": self.id,
            "last": encode(last),
            "rows": self.before + self.rows,
        }

    def complete(self) -> BatchResult:
        """Every batch done: the checkpoint is cleared (the next run starts at
        the top) and the counts returned."""
        if self.checkpoint is not None:
            self.checkpoint.clear()
        return BatchResult(
            batches=self.batches,
            rows=self.rows,
            written=self.written,
            resumed_after=self.before,
            deleted=dict(self.deleted) if self.deleted else None,
        )
