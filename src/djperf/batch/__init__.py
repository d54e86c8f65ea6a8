"""Batch work on big tables: keyset iteration (``batched``, ``abatched``).

Independent of the capture: it needs Django's ORM and nothing else of
djperf's (docs/batch.md).
"""

from __future__ import annotations

from djperf.batch.keyset import BatchError, abatched, batched

__all__ = ["BatchError", "abatched", "batched"]
