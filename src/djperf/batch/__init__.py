"""Batch work on big tables: keyset iteration (``batched``, ``abatched``),
writes in batches (``update_in_batches``, ``delete_in_batches``,
``bulk_create_with_m2m``), checkpoints to resume a killed job, and a progress
bar (docs/batch.md).

Independent of the capture: it needs Django's ORM and nothing else of
djperf's. The Celery fan-out is ``djperf.batch.celery`` (the ``celery`` extra).
"""

from __future__ import annotations

from djperf.batch.checkpoint import CacheCheckpoint, Checkpoint, FileCheckpoint, TableCheckpoint
from djperf.batch.iterate import abatched, batched
from djperf.batch.job import BatchResult
from djperf.batch.keyset import BatchError
from djperf.batch.writes import bulk_create_with_m2m, delete_in_batches, update_in_batches

__all__ = [
    "BatchError",
    "BatchResult",
    "CacheCheckpoint",
    "Checkpoint",
    "FileCheckpoint",
    "TableCheckpoint",
    "abatched",
    "batched",
    "bulk_create_with_m2m",
    "delete_in_batches",
    "update_in_batches",
]
