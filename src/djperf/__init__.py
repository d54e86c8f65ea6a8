"""djperf: find, fix and prove Django performance problems.

The public API is what this module exports; everything else may change.

    import djperf

    with djperf.capture() as rec:
        ...
    rec.queries, rec.lazy_loads, rec.findings

Importing djperf does not need Django configured (the CLI and the linter run
anywhere); the hooks are installed by the djperf app or the first capture.
"""

from __future__ import annotations

from djperf.detect.findings import Finding, Fix
from djperf.record.events import Evaluation, LazyLoad, Location, Provenance, Query
from djperf.record.recorder import Recording, capture
from djperf.record.tags import provenance_of
from djperf.verify import Trial, Verification, verify

__version__ = "0.1.0.dev0"

__all__ = [
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
    "capture",
    "provenance_of",
    "verify",
]
