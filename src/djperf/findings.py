"""What djperf reports: `Location`, `Finding` and `Fix` (the public contract, docs/capture.md).

The ground floor of the package: plain data that imports no Django, so the
linter, the CLI and reports read and write findings without Django configured.
Every part (capture, verify, the report, the coming pytest plugin, monitor and
linter) hands these same objects around, and ``to_dict()`` / ``from_dict()``
round-trip them through JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from djperf._format import block, duration

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")


@dataclass(frozen=True, slots=True)
class Location:
    """A line of user code: ``str(location) == "shop/views.py:42"``."""

    path: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "function": self.function}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Location:
        return cls(path=data["path"], line=int(data["line"]), function=data["function"])


@dataclass(frozen=True, slots=True)
class Fix:
    """The change that removes a finding.

    ``method`` is the API to use (``select_related``, ``bulk_update``, ...),
    ``lookup`` the full path from the evaluated queryset (``book__publisher``)
    and ``text`` the code to write (``.select_related('book__publisher')``).

    ``model`` is the model whose querysets take the change ("app.Model"), when
    the fix is a change to a queryset. ``omits`` is True when the change
    leaves ``lookup`` out of the query (``.defer('seo_text')``: fewer bytes,
    the same queries) rather than loading something more; ``djperf.verify()``
    reads both to apply the fix, never the rule that proposed it.
    """

    method: str
    lookup: str | None
    text: str
    model: str | None = None
    omits: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "lookup": self.lookup,
            "text": self.text,
            "model": self.model,
            "omits": self.omits,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fix:
        return cls(
            method=data["method"],
            lookup=data["lookup"],
            text=data["text"],
            model=data.get("model"),
            omits=bool(data.get("omits", False)),
        )


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
    # Test code's, not the application's: it repeated only because a test (a
    # fixture, setUp) called the code several times, or it is in test code.
    # Then `location` is the test's line. Reports hide these by default.
    in_tests: bool = False

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    def __str__(self) -> str:
        """The block the terminal report prints, as plain text wrapped to 80 columns."""
        return block(self.head(), self.message, self.rows())

    def head(self) -> str:
        """``n-plus-one  shop.Order.customer  x20  3.1 ms``: rule, what, how often, cost."""
        return "  ".join(part for part in self.head_parts() if part)

    def head_parts(self) -> tuple[str, str, str]:
        """The head's rule, what (model and field, or model), and how often and cost."""
        what = f"{self.model}.{self.field}" if self.model and self.field else self.model or ""
        cost = f"  {duration(self.duration)}" if self.duration else ""  # none: unused-column
        return self.rule, what, f"x{self.count}{cost}"

    def rows(self) -> list[tuple[str, str]]:
        """The labelled lines under the message: at, origin, built, fix, or."""
        rows = [("at", _where(self.location))]
        if self.origin is not None and self.origin != self.location:
            rows.append(("origin", _where(self.origin)))
        if self.built is not None:
            rows.append(("built", _where(self.built)))
        if self.fix is not None:
            rows.append(("fix", self.fix.text))
        rows.extend(("or", alternative.text) for alternative in self.alternatives)
        return rows

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
            "in_tests": self.in_tests,
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
            location=_location(data.get("location")),
            origin=_location(data.get("origin")),
            fix=Fix.from_dict(data["fix"]) if data.get("fix") else None,
            duration=float(data.get("duration", 0.0)),
            built=_location(data.get("built")),
            alternatives=tuple(Fix.from_dict(f) for f in data.get("alternatives", ())),
            in_tests=bool(data.get("in_tests", False)),
        )


def _where(location: Location | None) -> str:
    return "unknown" if location is None else f"{location}  {location.function}"


def _location(data: dict[str, Any] | None) -> Location | None:
    return Location.from_dict(data) if data else None


EagerMethod = Literal["select_related", "prefetch_related"]


@dataclass(frozen=True, slots=True)
class EagerLoad:
    """One select_related or prefetch_related lookup at one line, as one
    capture saw it: how many related rows it brought, and whether any was read.

    unused-eager-load reports a lookup that brought rows none of which was
    read. Across a suite, a site is unused only if no test used it: `key`
    is the same for the same site in every capture (``djperf.testing``
    will merge them), and the unused-eager-load finding of a site has the
    same location, model and fix lookup.
    """

    location: Location
    model: str
    lookup: str
    method: EagerMethod
    # Related rows the lookup brought (rows joined, not NULL; rows prefetched).
    rows: int
    # Some instance read the relation, or djperf cannot tell (the instances
    # were pickled, a prefetch into to_attr, a generic foreign key).
    used: bool

    @property
    def key(self) -> str:
        return f"{self.location} {self.model} {self.method}({self.lookup!r})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location.to_dict(),
            "model": self.model,
            "lookup": self.lookup,
            "method": self.method,
            "rows": self.rows,
            "used": self.used,
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EagerLoad:
        return cls(
            location=Location.from_dict(data["location"]),
            model=data["model"],
            lookup=data["lookup"],
            method=data["method"],
            rows=int(data["rows"]),
            used=bool(data["used"]),
        )
