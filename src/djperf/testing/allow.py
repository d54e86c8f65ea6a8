"""The allow-list: findings a team accepted, each with its reason and, when it
is debt to pay down, the date it must be revisited by.

    # settings.py
    DJPERF = {
        "ALLOW": [
            {
                "rule": "n-plus-one",
                "where": "reports/views.py:88",
                "reason": "the monthly export, rewritten in ticket #412",
                "until": "2027-03-01",
            },
        ],
    }

or, in pyproject.toml::

    [[tool.djperf.allow]]
    rule = "duplicate-query"
    where = "shop.Order.customer"
    reason = "cached by the CDN; one query per page view"

``where`` is a line (``path:line``, as findings show it), a whole file
(``path``), or what a finding is about (``app.Model.field`` or
``app.Model``). ``rule`` is a rule id. An allowed finding is left out of the
summary and of strict mode's failures (the summary counts them), and kept in
the JSON report with its reason. An entry past its ``until`` date fails the
run, so that accepted debt gets revisited.
"""

from __future__ import annotations

import datetime
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from djperf.findings import Finding


class AllowListError(ValueError):
    """An allow-list entry djperf cannot use (says which and why)."""


@dataclass(frozen=True)
class Allowed:
    """One entry of the allow-list."""

    rule: str
    where: str
    reason: str
    until: datetime.date | None = None
    # Where the entry was written: 'DJPERF["ALLOW"][0]', 'pyproject.toml'.
    source: str = ""

    def matches(self, finding: Finding) -> bool:
        if finding.rule != self.rule and self.rule != "*":
            return False
        where = self.where
        location = finding.location
        if location is not None and where in (str(location), location.path):
            return True
        subject = f"{finding.model}.{finding.field}" if finding.field else finding.model
        return where in (subject, finding.model)

    def expired(self, today: datetime.date) -> bool:
        return self.until is not None and self.until < today

    def __str__(self) -> str:
        until = f", until {self.until.isoformat()}" if self.until else ""
        return f"{self.rule} at {self.where} ({self.reason}{until}; {self.source})"


def entries(data: Any, source: str, known_rules: Iterable[str] = ()) -> list[Allowed]:
    """The entries of one allow-list (a list of mappings), checked."""
    if data is None:
        return []
    if not isinstance(data, (list, tuple)):
        raise AllowListError(f"{source} must be a list of entries, not {type(data).__name__}")
    rules = set(known_rules)
    found = []
    for index, entry in enumerate(data):
        where = f"{source}[{index}]"
        if not isinstance(entry, Mapping):
            raise AllowListError(f"{where} must be a mapping with rule, where and reason")
        unknown = sorted(set(entry) - {"rule", "where", "reason", "until"})
        if unknown:
            raise AllowListError(
                f"{where} has unknown key(s) {', '.join(unknown)}; "
                "known: rule, where, reason, until"
            )
        missing = [key for key in ("rule", "where", "reason") if not entry.get(key)]
        if missing:
            raise AllowListError(
                f"{where} needs {', '.join(missing)}: every accepted finding says what, "
                "where and why"
            )
        rule = str(entry["rule"])
        if rules and rule != "*" and rule not in rules:
            raise AllowListError(
                f"{where}: unknown rule id {rule!r}; known: {', '.join(sorted(rules))}"
            )
        found.append(
            Allowed(
                rule=rule,
                where=str(entry["where"]),
                reason=str(entry["reason"]),
                until=_date(entry.get("until"), where),
                source=where,
            )
        )
    return found


def _date(value: Any, where: str) -> datetime.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise AllowListError(
            f"{where}: until must be a date like 2027-03-01, not {value!r}"
        ) from None


def from_pyproject(path: Path, known_rules: Iterable[str] = ()) -> list[Allowed]:
    """The ``[[tool.djperf.allow]]`` entries of a pyproject.toml (none if it has none)."""
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise AllowListError(f"{path}: {error}") from None
    allow = data.get("tool", {}).get("djperf", {}).get("allow")
    return entries(allow, f"{path.name} [tool.djperf.allow]", known_rules)


class AllowList:
    """Every entry from the settings and pyproject.toml."""

    def __init__(self, allowed: Iterable[Allowed]) -> None:
        self.allowed = list(allowed)

    @classmethod
    def load(cls, pyproject: Path, settings_value: Any, known_rules: Iterable[str]) -> AllowList:
        rules = list(known_rules)
        return cls(
            [
                *entries(settings_value, 'DJPERF["ALLOW"]', rules),
                *from_pyproject(pyproject, rules),
            ]
        )

    def reason(self, finding: Finding) -> str | None:
        """The reason `finding` is allowed, or None."""
        for entry in self.allowed:
            if entry.matches(finding):
                return entry.reason
        return None

    def expired(self, today: datetime.date | None = None) -> list[Allowed]:
        day = today or datetime.date.today()
        return [entry for entry in self.allowed if entry.expired(day)]
