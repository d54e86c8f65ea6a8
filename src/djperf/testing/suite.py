"""A whole test run's findings: collected per test, judged over the suite,
summarized once, written as JSON.

The pytest plugin and the manage.py runner both fill a ``SuiteFindings``
(one per process; pytest-xdist workers and ``--parallel`` processes send
theirs to the main process as JSON, which merges them), then print its
``summary()`` and write its ``report()``.

Judged over the suite: a ``select_related`` / ``prefetch_related`` site is
reported unused only when no test in the run used it (one test's path may
skip the relation another test's path reads). Everything else is judged per
test, as the capture found it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from djperf._format import block
from djperf.findings import SEVERITIES, EagerLoad, Finding

# Tests named under a finding in the summary before "and N more".
_TESTS_SHOWN = 2


@dataclass
class TestFindings:
    """One test's capture: its findings and its eager-load sites."""

    test: str
    findings: list[Finding]
    eager_loads: list[EagerLoad] = field(default_factory=list)
    # Findings the allow-list accepted, with the entry's reason.
    allowed: list[tuple[Finding, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "findings": [finding.to_dict() for finding in self.findings],
            "eager_loads": [load.to_dict() for load in self.eager_loads],
            "allowed": [{**finding.to_dict(), "allowed": why} for finding, why in self.allowed],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestFindings:
        return cls(
            test=data["test"],
            findings=[Finding.from_dict(f) for f in data["findings"]],
            eager_loads=[EagerLoad.from_dict(e) for e in data.get("eager_loads", ())],
            allowed=[(Finding.from_dict(f), f["allowed"]) for f in data.get("allowed", ())],
        )


@dataclass
class Problem:
    """One finding of the summary: a rule at a line, with every test that hit it."""

    finding: Finding  # the most severe, then most repeated, of the tests' findings
    tests: list[str]
    # unused-eager-load: in how many tests the site ran (none used it).
    ran_in: int = 0

    @property
    def in_tests(self) -> bool:
        return self.finding.in_tests


def eager_load_key(finding: Finding) -> str | None:
    """The site key (``EagerLoad.key``) of an unused-eager-load finding."""
    if finding.rule != "unused-eager-load" or finding.location is None or finding.fix is None:
        return None
    method = finding.fix.method.removeprefix("remove_")
    return f"{finding.location} {finding.model} {method}({finding.fix.lookup!r})"


class SuiteFindings:
    """Every test's findings in one run, and what the run as a whole says."""

    def __init__(self) -> None:
        self.tests: list[TestFindings] = []

    def add(
        self,
        test: str,
        findings: Sequence[Finding],
        eager_loads: Sequence[EagerLoad],
        allowed: Sequence[tuple[Finding, str]] = (),
    ) -> None:
        if findings or eager_loads or allowed:
            self.tests.append(TestFindings(test, list(findings), list(eager_loads), list(allowed)))

    # -- between processes ---------------------------------------------------------

    def dumps(self) -> str:
        return json.dumps([test.to_dict() for test in self.tests])

    def merge(self, dumped: str) -> None:
        self.tests += [TestFindings.from_dict(data) for data in json.loads(dumped)]

    # -- judged over the suite -------------------------------------------------------

    def used_sites(self) -> set[str]:
        return {load.key for test in self.tests for load in test.eager_loads if load.used}

    def judged(self) -> list[tuple[str, Finding]]:
        """Every (test, finding) the run reports: an unused eager load another
        test used is left out."""
        used = self.used_sites()
        return [
            (test.test, finding)
            for test in self.tests
            for finding in test.findings
            if eager_load_key(finding) not in used
        ]

    def problems(self) -> list[Problem]:
        """The judged findings grouped by rule and line, the most severe first,
        then application code before test code, then the most tests."""
        # The tests each site ran in (once per test however often it ran).
        ran_in = Counter(key for test in self.tests for key in {e.key for e in test.eager_loads})
        grouped: dict[tuple[str, str, str | None, str | None], Problem] = {}
        for test, finding in self.judged():
            # Two relations read on one template line are two problems.
            key = (finding.rule, str(finding.location), finding.model, finding.field)
            problem = grouped.get(key)
            if problem is None:
                key_site = eager_load_key(finding)
                grouped[key] = Problem(finding, [test], ran_in[key_site] if key_site else 0)
                continue
            if test not in problem.tests:
                problem.tests.append(test)
            if _weight(finding) > _weight(problem.finding):
                problem.finding = finding
        return sorted(
            grouped.values(),
            key=lambda p: (
                -SEVERITIES.index(p.finding.severity),
                p.in_tests,
                -len(p.tests),
                p.finding.rule,
                str(p.finding.location),
            ),
        )

    # -- what the user reads ---------------------------------------------------------

    def summary(self, *, show_test_code: bool = False, width: int = 80) -> list[str]:
        """The summary's lines: one block per problem, each with its tests."""
        problems = self.problems()
        shown = [p for p in problems if show_test_code or not p.in_tests]
        hidden = len(problems) - len(shown)
        tests = len({test for p in shown for test in p.tests})
        counts = Counter(p.finding.severity for p in shown)
        by_severity = ", ".join(
            f"{counts[s]} {s}{'s' if counts[s] != 1 and s != 'info' else ''}"
            for s in reversed(SEVERITIES)
            if counts[s]
        )
        lines = [
            f"{len(shown)} problem{'s' if len(shown) != 1 else ''}"
            + (f" ({by_severity})" if by_severity else "")
            + f" found by {tests} test{'s' if tests != 1 else ''}"
        ]
        allowed = sum(len(test.allowed) for test in self.tests)
        if allowed:
            lines.append(f"{allowed} more accepted by the allow-list (the report has them)")
        if hidden:
            lines.append(
                f"{hidden} more driven by test code only "
                f"(--djperf-show-test-code shows {'it' if hidden == 1 else 'them'})"
            )
        for problem in shown:
            finding = problem.finding
            rows = finding.rows()
            rows.append(("tests", _tests(problem.tests)))
            if problem.ran_in:
                rows.append(("ran in", f"{problem.ran_in} tests, used in none"))
            lines.append("")
            head = f"{finding.head()}  [{finding.severity}]"
            lines += block(head, finding.message, rows, width=width).splitlines()
        return lines

    def report(self) -> dict[str, Any]:
        """Every judged finding with its test id, JSON-ready."""
        allowed = [
            {"test": test.test, **finding.to_dict(), "allowed": why}
            for test in self.tests
            for finding, why in test.allowed
        ]
        return {
            "findings": [{"test": test, **finding.to_dict()} for test, finding in self.judged()],
            "allowed": allowed,
            "tests": len(self.tests),
        }


def _weight(finding: Finding) -> tuple[int, int, float]:
    # Counts first: the same run shows the same block (durations vary).
    return SEVERITIES.index(finding.severity), finding.count, finding.duration


def _tests(tests: Iterable[str]) -> str:
    tests = list(tests)
    shown = ", ".join(tests[:_TESTS_SHOWN])
    more = len(tests) - _TESTS_SHOWN
    return f"{len(tests)}: {shown}" + (f", and {more} more" if more > 0 else "")


def problem_findings(findings: Iterable[Finding], ignore: Iterable[str] = ()) -> list[Finding]:
    """Findings at warning level or above, minus the ignored rules and those
    driven by test code only: what fails a test in strict mode."""
    ignored = set(ignore)
    return [
        finding
        for finding in findings
        if SEVERITIES.index(finding.severity) >= SEVERITIES.index("warning")
        and finding.rule not in ignored
        and not finding.in_tests
    ]
