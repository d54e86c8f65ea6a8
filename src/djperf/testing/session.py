"""One run of a test suite under djperf: a capture around each test, the
findings collected, strict mode's verdict, the summary and the JSON report.

The pytest plugin and the manage.py runner each hold one ``TestSession``;
they differ only in where a test starts and ends and how its failure is
reported. Test outcomes never change except in strict mode, and an error
inside djperf is logged and leaves the test alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djperf._errors import contain
from djperf.findings import Finding
from djperf.testing import offline, records
from djperf.testing.allow import AllowList, AllowListError
from djperf.testing.counting import findings_text, wrapped
from djperf.testing.offline import Contact, OfflineGuard
from djperf.testing.suite import SuiteFindings, problem_findings

if TYPE_CHECKING:
    from djperf._capture import capture

# Rules judged over the whole run rather than per test: strict mode fails the
# run on them at the end, never one test (another test may use the load).
SUITE_RULES = frozenset({"unused-eager-load"})


# The command-line options of the pytest plugin and of the manage.py runner:
# one table, so the two say the same (pytest's addoption and argparse's
# add_argument take the same keywords).
OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "--djperf",
        {
            "action": "store_true",
            "default": False,
            "help": "Run every test under djperf.capture() and summarize the problems found "
            "(test outcomes do not change).",
        },
    ),
    (
        "--djperf-strict",
        {
            "action": "store_true",
            "default": False,
            "help": "Fail a test whose capture found a problem at warning level or above "
            "(implies --djperf).",
        },
    ),
    (
        "--djperf-report",
        {
            "metavar": "FILE",
            "default": None,
            "help": "Write every finding with its test id to FILE as JSON (implies --djperf).",
        },
    ),
    (
        "--djperf-show-test-code",
        {
            "action": "store_true",
            "default": False,
            "help": "Also summarize problems driven by test code only (implies --djperf).",
        },
    ),
    (
        "--djperf-offline",
        {
            "action": "store_const",
            "const": "block",
            "dest": "djperf_offline",
            "default": None,
            "help": "Fail a test that connects to a host other than this machine (loopback, "
            "the database and cache hosts of the settings and --djperf-offline-allow hosts "
            "are allowed).",
        },
    ),
    (
        "--djperf-offline-report",
        {
            "action": "store_const",
            "const": "report",
            "dest": "djperf_offline",
            "help": "List the tests that connected to a host other than this machine, at the "
            "end (none fails).",
        },
    ),
    (
        "--djperf-offline-allow",
        {
            "action": "append",
            "default": [],
            "metavar": "HOST",
            "help": "A host offline mode lets tests reach (repeat for several).",
        },
    ),
    (
        "--djperf-record",
        {
            "metavar": "MODE",
            "default": None,
            "choices": records.MODES,
            "help": "How record() treats performance records: once (write a missing record, "
            "compare an existing one), none (write nothing: the default when CI is set), all "
            "(write every record, still failing on a change), overwrite (write every record).",
        },
    ),
    (
        "--djperf-prune",
        {
            "action": "store_true",
            "default": False,
            "help": "Remove the performance records of tests that no longer exist (their "
            "module, class or function is gone).",
        },
    ),
)


@dataclass(frozen=True)
class Mode:
    """What the user asked of djperf for this run."""

    # Every test runs under capture (--djperf, or implied by the others).
    capture: bool = False
    # A test with findings at warning level or above fails (--djperf-strict).
    strict: bool = False
    # Where the JSON report goes (--djperf-report FILE).
    report: str | None = None
    # Show findings driven by test code only (--djperf-show-test-code).
    show_test_code: bool = False
    # --djperf-offline: "block" (a test reaching another host fails) or
    # "report" (the run lists the tests that did); None: off.
    offline: str | None = None
    # Hosts offline mode lets tests reach (--djperf-offline-allow HOST).
    offline_allow: tuple[str, ...] = ()

    @property
    def on(self) -> bool:
        """Whether tests run under capture."""
        return self.capture or self.strict or self.report is not None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Mode:
        data = json.loads(text)
        data["offline_allow"] = tuple(data.get("offline_allow", ()))
        return cls(**data)


class TestCapture:
    """The capture around one test.

    ``dormant=True`` opens it recording nothing until ``wake()``: the pytest
    plugin opens it before the test's fixtures are set up, so that an event
    loop or task a fixture starts (anyio, pytest-asyncio) holds it in its
    copy of the context, and wakes it when the test function is called
    (fixtures build data: not the test's work).
    """

    def __init__(self, *, dormant: bool = False) -> None:
        self.scope: capture | None = None
        try:
            from djperf._capture import capture

            scope = capture()
            recording = scope.__enter__()
            if dormant:
                recording.open = False
            self.scope = scope
        except Exception:
            contain("test capture")

    def wake(self) -> None:
        recording = self.scope.recording if self.scope is not None else None
        if recording is not None:
            recording.open = True
            recording.started = time.perf_counter()

    def close(self) -> tuple[list[Finding], list[Any]]:
        """Close the capture: its findings and eager-load sites."""
        scope, self.scope = self.scope, None
        if scope is None or scope.recording is None:
            return [], []
        try:
            scope.__exit__(None, None, None)
        except Exception:
            contain("test capture")
            return [], []
        return list(scope.recording.findings), list(scope.recording.eager_loads)


class TestSession:
    """djperf's part of one test run."""

    def __init__(self, mode: Mode) -> None:
        if mode.offline not in (None, "block", "report"):
            raise ValueError(f"offline mode must be 'block' or 'report', not {mode.offline!r}")
        self.mode = mode
        self.suite = SuiteFindings()
        self.guard = (
            OfflineGuard(block=mode.offline == "block", allow=mode.offline_allow)
            if mode.offline
            else None
        )
        # Offline report mode: the tests that reached another host, and which.
        self.reached: dict[str, list[Contact]] = {}
        self.allow: AllowList | None = None
        self.pyproject: Path | None = None
        self.report_error: str | None = None
        # --djperf-prune: the records removed (file, test key).
        self.pruned: list[tuple[Path, str]] = []

    def load_allow_list(self, pyproject: Path | None = None) -> None:
        """Read the allow-list (DJPERF["ALLOW"] and `pyproject`'s
        [[tool.djperf.allow]], by default the one in DJPERF["ROOT"]); raises
        AllowListError on a wrong entry."""
        from djperf import conf
        from djperf.detect import registry

        if pyproject is not None:
            self.pyproject = pyproject
        where = self.pyproject or conf.root() / "pyproject.toml"
        self.allow = AllowList.load(where, conf.get("ALLOW"), registry.rules())

    def allow_failure(self) -> list[str]:
        """The lines that fail the run: allow-list entries past their date."""
        expired = self.allow.expired() if self.allow is not None else []
        if not expired:
            return []
        count = len(expired)
        head = wrapped(
            f"djperf: {count} allow-list entr{'ies' if count != 1 else 'y'} past "
            f"{'their' if count != 1 else 'its'} date: fix the finding, or extend the date "
            "with a reason:"
        )
        return [*head.splitlines(), *(wrapped(f"  {e}", indent=4) for e in expired)]

    # -- offline mode ------------------------------------------------------------------

    def offline_mark(self) -> int:
        """Where a test's contacts start (give it back to `offline_end`)."""
        return len(self.guard.contacts) if self.guard is not None else 0

    def offline_end(self, test: str, mark: int) -> str | None:
        """The contacts `test` made since `mark`: kept for the report, and in
        block mode the test's failure text (the code may have caught the
        refusal; the test fails all the same)."""
        if self.guard is None:
            return None
        contacts = self.guard.since(mark)
        if not contacts:
            return None
        self.reached[test] = contacts
        return offline.describe(contacts) if self.guard.block else None

    def dumps_reached(self) -> str:
        return json.dumps(
            {test: [c.to_dict() for c in found] for test, found in self.reached.items()}
        )

    def merge_reached(self, dumped: str) -> None:
        for test, found in json.loads(dumped).items():
            self.reached[test] = [Contact.from_dict(c) for c in found]

    def offline_summary(self) -> list[str]:
        if self.guard is None:
            return []
        if not self.reached:
            return ["djperf offline: no test reached a host other than this machine"]
        count = len(self.reached)
        verb = "tried to reach (refused)" if self.guard.block else "reached"
        lines = [
            f"djperf offline: {count} test{'s' if count != 1 else ''} {verb} a host other "
            "than this machine:"
        ]
        for test, contacts in self.reached.items():
            lines.append(f"  {test}")
            lines += [f"    {contact}" for contact in contacts]
        return lines

    def finish_test(
        self,
        test: str,
        capture: TestCapture,
        *,
        strict: bool | None = None,
        ignore: Iterable[str] = (),
    ) -> str | None:
        """Close `test`'s capture and keep its findings; in strict mode, the
        failure text when the test must fail (None when it passes). An error
        inside djperf is logged and changes nothing."""
        try:
            return self._finish_test(test, capture, strict=strict, ignore=ignore)
        except AllowListError:
            raise  # the user's allow-list is wrong: say so
        except Exception:
            contain("test session")
            return None

    def _finish_test(
        self, test: str, capture: TestCapture, *, strict: bool | None, ignore: Iterable[str]
    ) -> str | None:
        findings, eager_loads = capture.close()
        if self.allow is None:
            self.load_allow_list()
        ignored = set(ignore)
        kept, allowed = [], []
        for finding in findings:
            if finding.rule in ignored:
                continue
            why = self.allow.reason(finding) if self.allow is not None else None
            if why is None:
                kept.append(finding)
            else:
                allowed.append((finding, why))
        self.suite.add(test, kept, eager_loads, allowed)
        if not (self.mode.strict if strict is None else strict):
            return None
        problems = problem_findings(kept, SUITE_RULES)
        if not problems:
            return None
        return findings_text(problems, "in this test (djperf strict mode)")

    def suite_failure(self) -> list[str]:
        """Strict mode: the lines of the findings judged over the suite that
        fail the run (an eager load no test used)."""
        if not self.mode.strict:
            return []
        failing = [
            problem
            for problem in self.suite.problems()
            if problem.finding.rule in SUITE_RULES and problem_findings([problem.finding])
        ]
        return [str(problem.finding) for problem in failing]

    def summary(self, width: int = 80) -> list[str]:
        return self.suite.summary(show_test_code=self.mode.show_test_code, width=width)

    def write_report(self) -> str | None:
        """Write the JSON report when one was asked for; its path."""
        if self.mode.report is None:
            return None
        path = Path(self.mode.report)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.suite.report(), indent=1) + "\n", encoding="utf-8")
        except OSError as error:
            self.report_error = f"djperf: could not write the report {path}: {error}"
            return None
        return os.fspath(path)
