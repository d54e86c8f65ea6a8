"""Assertions on a capture's findings, with failure messages that say what to change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djperf.findings import SEVERITIES, Finding

if TYPE_CHECKING:
    from djperf.record.scope import Recording


def assert_no_warnings(recording: Recording) -> None:
    """Fail when the capture found a problem at warning level or above.

    Info findings are left out: a repetition that saves a single query per
    request, the admin's extra count, and everything only test code repeats
    (docs/detectors.md, "Severity"). The failure lists each problem with its
    line and its fix.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    problems = [
        finding
        for finding in recording.findings
        if SEVERITIES.index(finding.severity) >= SEVERITIES.index("warning")
    ]
    if problems:
        raise AssertionError(describe(problems))


def describe(findings: Iterable[Finding]) -> str:
    """Findings as plain text: the blocks the terminal report prints (str(finding))."""
    findings = list(findings)
    head = f"djperf found {len(findings)} problem{'s' if len(findings) != 1 else ''}:"
    return "\n".join([head, *(str(finding) for finding in findings)])
