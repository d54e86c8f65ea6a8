"""djperf: find, fix and prove Django performance problems.

The public API is what this module exports; everything else may change.

    import djperf

    with djperf.capture() as rec:
        ...
    rec.queries, rec.lazy_loads, rec.findings

Importing djperf loads no Django (the CLI and the linter run anywhere, and
tests/test_import.py holds the budget): the names that need Django are
imported the first time they are used. The hooks are installed by the djperf
app or the first capture.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from djperf.findings import Finding, Fix, Location

if TYPE_CHECKING:
    from djperf._capture import capture
    from djperf.batch import (
        BatchError,
        BatchResult,
        abatched,
        batched,
        bulk_create_with_m2m,
        delete_in_batches,
        update_in_batches,
    )
    from djperf.record.events import Evaluation, LazyLoad, Provenance, Query
    from djperf.record.scope import Recording
    from djperf.record.tags import provenance_of
    from djperf.verification import Trial, Verification, verify

__version__ = "0.1.0.dev0"

__all__ = [
    "BatchError",
    "BatchResult",
    "Evaluation",
    "Finding",
    "Fix",
    "LazyLoad",
    "Location",
    "Provenance",
    "Query",
    "Recording",
    "Trial",
    "Verification",
    "__version__",
    "abatched",
    "batched",
    "bulk_create_with_m2m",
    "capture",
    "delete_in_batches",
    "provenance_of",
    "update_in_batches",
    "verify",
]

# Public name -> the module that defines it, imported on first use.
_LAZY = {
    "abatched": "djperf.batch",
    "batched": "djperf.batch",
    "BatchError": "djperf.batch",
    "BatchResult": "djperf.batch",
    "bulk_create_with_m2m": "djperf.batch",
    "delete_in_batches": "djperf.batch",
    "update_in_batches": "djperf.batch",
    "capture": "djperf._capture",
    "Evaluation": "djperf.record.events",
    "LazyLoad": "djperf.record.events",
    "Provenance": "djperf.record.events",
    "Query": "djperf.record.events",
    "Recording": "djperf.record.scope",
    "provenance_of": "djperf.record.tags",
    "Trial": "djperf.verification",
    "Verification": "djperf.verification",
    "verify": "djperf.verification",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'djperf' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
