"""Deprecated path: Finding, Fix and Severity live in ``djperf.findings`` now.

Kept for one release so code written against 0.1.0.dev0 keeps working;
import them from ``djperf`` (or ``djperf.findings``) instead.
"""

from __future__ import annotations

import warnings

from djperf.findings import SEVERITIES, Finding, Fix, Location, Severity

__all__ = ["SEVERITIES", "Finding", "Fix", "Location", "Severity"]

warnings.warn(
    "djperf.detect.findings is deprecated: import Finding and Fix from djperf "
    "(or djperf.findings); this path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
