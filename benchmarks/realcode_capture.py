"""Every test of a real project's suite under ``djperf.capture()``: the part of
benchmarks/realcode.py that runs inside the project's own environment.

Two ways in, one per test runner, both writing one JSON line per test to the
file named by ``DJPERF_REALCODE_OUT``: its id, its outcome, and (when
``DJPERF_REALCODE_MODE`` is ``capture``) the findings of its capture. In
``bare`` mode nothing is captured, so the two runs differ only by djperf.

- Django's runner: ``manage.py test --testrunner realcode_capture.Runner``.
  The runner subclasses the project's own ``TEST_RUNNER`` and gives it a
  result class that opens a capture in ``startTest`` and closes it in
  ``stopTest``: a test's ``setUp`` and ``tearDown`` are inside it,
  ``setUpClass`` and ``setUpTestData`` are not.
- pytest: ``pytest -p realcode_capture``. A hook wrapper around each test's
  protocol opens the capture before its fixtures are set up and closes it
  after they are torn down.

The issue this grew from asks for a small runner of its own until djperf has
its pytest plugin and test runner; then realcode.py will use those.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

OUT = os.environ.get("DJPERF_REALCODE_OUT", "")
MODE = os.environ.get("DJPERF_REALCODE_MODE", "capture")
# "capture": this module captures each test; "bare" and "plugin": it only
# records outcomes ("plugin": djperf's plugin or runner captures).
CAPTURING = MODE == "capture"


class _Journal:
    """The JSON lines file, opened once per process."""

    def __init__(self) -> None:
        self._file: Any = None

    def write(self, record: dict[str, Any]) -> None:
        if not OUT:
            return
        if self._file is None:
            self._file = open(OUT, "a", encoding="utf-8")  # noqa: SIM115 - process lifetime
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()


journal = _Journal()


class _TestCapture:
    """The capture around one test, and what it found."""

    def __init__(self) -> None:
        self.scope: Any = None
        self.started = 0.0

    def open(self) -> None:
        self.started = time.perf_counter()
        if not CAPTURING:
            return
        import djperf

        self.scope = djperf.capture()
        self.scope.__enter__()

    def close(self) -> list[dict[str, Any]]:
        """The findings of the test's capture; its eager-load sites in `sites`."""
        self.sites: list[dict[str, Any]] = []
        if self.scope is None:
            return []
        scope, self.scope = self.scope, None
        try:
            scope.__exit__(None, None, None)
        except Exception as error:
            return [{"rule": "djperf-error", "message": repr(error)}]
        # (A djperf from before eager-load sites has none.)
        self.sites = [load.to_dict() for load in getattr(scope.recording, "eager_loads", [])]
        return [finding.to_dict() for finding in scope.recording.findings]


# -- Django's test runner ------------------------------------------------------


def _runner_base() -> Any:
    from django.conf import settings
    from django.test.utils import get_runner

    return get_runner(settings)


def _result_class(base: Any) -> Any:
    class CapturingResult(base):  # type: ignore[misc, valid-type]
        def startTest(self, test: Any) -> None:
            self._djperf = _TestCapture()
            self._djperf_outcome = "passed"
            self._djperf.open()
            super().startTest(test)

        def stopTest(self, test: Any) -> None:
            super().stopTest(test)
            findings = self._djperf.close()
            journal.write(
                {
                    "test": test.id(),
                    "outcome": self._djperf_outcome,
                    "seconds": time.perf_counter() - self._djperf.started,
                    "findings": findings,
                    "eager_loads": self._djperf.sites,
                }
            )

        def _note(self, outcome: str) -> None:
            if getattr(self, "_djperf_outcome", "passed") == "passed":
                self._djperf_outcome = outcome

        def addError(self, test: Any, err: Any) -> None:
            if not hasattr(self, "_djperf"):
                # A class or module set-up failed: no startTest for it.
                journal.write({"test": str(test), "outcome": "error", "findings": []})
            self._note("error")
            super().addError(test, err)

        def addFailure(self, test: Any, err: Any) -> None:
            self._note("failed")
            super().addFailure(test, err)

        def addSkip(self, test: Any, reason: str) -> None:
            self._note("skipped")
            super().addSkip(test, reason)

        def addExpectedFailure(self, test: Any, err: Any) -> None:
            self._note("xfailed")
            super().addExpectedFailure(test, err)

        def addUnexpectedSuccess(self, test: Any) -> None:
            self._note("xpassed")
            super().addUnexpectedSuccess(test)

        def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
            if err is not None:
                self._note("failed")
            super().addSubTest(test, subtest, err)

    return CapturingResult


def __getattr__(name: str) -> Any:
    # The runner class is built on first use, after Django is configured, on
    # top of the project's own TEST_RUNNER.
    if name != "Runner":
        raise AttributeError(name)
    base = _runner_base()

    if MODE == "plugin":
        # djperf's own runner options on top of the project's runner, whose
        # results this module journals.
        from djperf.testing import DjperfRunnerMixin

        runner = type("Runner", (DjperfRunnerMixin, _journal_runner(base)), {})
        globals()["Runner"] = runner
        return runner
    base = _journal_runner(base)
    globals()["Runner"] = base
    return base


def _journal_runner(base: Any) -> Any:
    import unittest

    class Runner(base):  # type: ignore[misc, valid-type]
        def get_resultclass(self) -> Any:
            chosen = super().get_resultclass() or unittest.TextTestResult
            return _result_class(chosen)

        def run_tests(self, *args: Any, **kwargs: Any) -> Any:
            # One process: per-test captures are read back from this process.
            self.parallel = 1
            return super().run_tests(*args, **kwargs)

    return Runner


# -- pytest ----------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - the Django runner needs no pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    _outcomes: dict[str, str] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item: Any, nextitem: Any) -> Any:
        capture = _TestCapture()
        capture.open()
        try:
            yield
        finally:
            findings = capture.close()
            journal.write(
                {
                    "test": item.nodeid,
                    "outcome": _outcomes.pop(item.nodeid, "passed"),
                    "seconds": time.perf_counter() - capture.started,
                    "findings": findings,
                    "eager_loads": capture.sites,
                }
            )

    def pytest_runtest_logreport(report: Any) -> None:
        outcome = _outcomes.get(report.nodeid, "passed")
        if report.skipped and outcome == "passed":
            xfail = hasattr(report, "wasxfail")
            _outcomes[report.nodeid] = "xfailed" if xfail else "skipped"
        elif report.failed:
            _outcomes[report.nodeid] = "failed" if report.when == "call" else "error"


if __name__ == "__main__":  # pragma: no cover
    print(__doc__)
    sys.exit(0)
