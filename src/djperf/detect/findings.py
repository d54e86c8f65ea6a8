"""Findings and fixes: what a detector reports (public contract, docs/capture.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from djperf.record.events import Location

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")


@dataclass(frozen=True, slots=True)
class Fix:
    """The change that removes a finding.

    ``method`` is the API to use (``select_related``, ``bulk_update``, ...),
    ``lookup`` the full path from the evaluated queryset (``book__publisher``)
    and ``text`` the code to write (``.select_related('book__publisher')``).
    """

    method: str
    lookup: str | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "lookup": self.lookup, "text": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fix:
        return cls(method=data["method"], lookup=data["lookup"], text=data["text"])


@dataclass(frozen=True, slots=True)
class Finding:
    """One performance problem: which rule, where, how often, and the fix.

    ``location`` is the user line of the repeated access (a template's file and
    line when the access is in a template); ``origin`` is where the queryset
    involved was evaluated.
    """

    rule: str
    message: str
    severity: Severity
    model: str | None = None
    field: str | None = None
    count: int = 0
    location: Location | None = None
    origin: Location | None = None
    fix: Fix | None = None
    # What the problem cost in the recording: seconds of database, HTTP or cache time.
    duration: float = 0.0
    # Where the queryset was built, when that differs from where it was evaluated.
    built: Location | None = None
    # Other ways to fix it (Django 6.1's FETCH_PEERS, a Prefetch object ...).
    alternatives: tuple[Fix, ...] = ()

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "severity": self.severity,
            "model": self.model,
            "field": self.field,
            "count": self.count,
            "location": None if self.location is None else self.location.to_dict(),
            "origin": None if self.origin is None else self.origin.to_dict(),
            "fix": None if self.fix is None else self.fix.to_dict(),
            "duration": self.duration,
            "built": None if self.built is None else self.built.to_dict(),
            "alternatives": [fix.to_dict() for fix in self.alternatives],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            rule=data["rule"],
            message=data["message"],
            severity=data["severity"],
            model=data.get("model"),
            field=data.get("field"),
            count=int(data.get("count", 0)),
            location=Location.from_dict(data["location"]) if data.get("location") else None,
            origin=Location.from_dict(data["origin"]) if data.get("origin") else None,
            fix=Fix.from_dict(data["fix"]) if data.get("fix") else None,
            duration=float(data.get("duration", 0.0)),
            built=Location.from_dict(data["built"]) if data.get("built") else None,
            alternatives=tuple(Fix.from_dict(f) for f in data.get("alternatives", ())),
        )
