"""What every batch job shares: its position (resumed from and saved to a
checkpoint), its progress bar and its counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

from djperf.batch.checkpoint import Checkpoint, decode, encode, job_id
from djperf.batch.keyset import BatchError, Plan
from djperf.batch.progress import Progress


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
        if progress and total is None:
            total = plan.ordered.order_by().count()
        self.progress = Progress(progress, total, kind)

    @property
    def saves_in_transaction(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.in_transaction

    def resume(self) -> tuple[Any, ...] | None:
        """The key to start after: the checkpoint's, or None (from the top)."""
        if self.checkpoint is None:
            return None
        from django.db import connections

        if connections[self.using].in_atomic_block:
            raise BatchError(
                "a job with a checkpoint commits batch by batch: run it outside "
                "transaction.atomic() (inside one, a kill would roll every batch back "
                "while the checkpoint says they were done)"
            )
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
        if self.progress.drawing:
            self.progress.advance(self.before)
        fields = [self.plan.ordered.model._meta.get_field(name) for name in self.plan.key.names]
        return decode(state["last"], fields)

    def finished(self, last: tuple[Any, ...], rows: int, written: int) -> None:
        """A batch is done: count it; save the position unless the caller
        saves it in the batch's transaction (save_in_transaction())."""
        self.batches += 1
        self.rows += rows
        self.written += written
        if self.checkpoint is not None and not self.checkpoint.in_transaction:
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
