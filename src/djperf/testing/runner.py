"""``manage.py test`` under djperf: ``DjperfRunner`` and ``DjperfRunnerMixin``.

    # settings.py
    TEST_RUNNER = "djperf.testing.DjperfRunner"

    # or, on top of the project's own runner:
    class Runner(DjperfRunnerMixin, TheirRunner):
        pass

Then ``manage.py test --djperf`` runs every test under ``djperf.capture()``
and prints a summary of the problems found (test outcomes do not change,
``--parallel`` included); ``--djperf-strict`` fails a test whose capture
found a problem at warning level or above; ``--djperf-report FILE`` writes
every finding with its test id as JSON. The same modes as settings, for a
run without flags: ``DJPERF = {"TEST_MODE": "report" | "strict",
"TEST_REPORT": "djperf.json"}``.

A test's capture spans its setUp, the test method and its tearDown (not
setUpClass or setUpTestData: those build the class's data). With
``--parallel``, each worker process captures its own tests and sends their
findings to the main process with the test's other results.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import sys
import unittest
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management import CommandError
from django.test.runner import (
    DiscoverRunner,
    ParallelTestSuite,
    RemoteTestResult,
    RemoteTestRunner,
)

from djperf import conf
from djperf.testing import records
from djperf.testing.allow import AllowListError
from djperf.testing.session import OPTIONS, Mode, TestCapture, TestSession

# The run's mode, for --parallel worker processes (forked or spawned): they
# inherit the environment, not the parent's objects.
_MODE_VARIABLE = "DJPERF_TEST_RUNNER_MODE"


class _NamingResult:
    """A unittest result that tells djperf.testing.record() which test runs."""

    def startTest(self, test: unittest.TestCase) -> None:
        records.test_started(functools.partial(_unittest_target, test))
        super().startTest(test)  # type: ignore[misc]


class _CapturingResult:
    """A unittest result that opens a capture when a test starts and closes
    it when the test ends; in strict mode a passing test with problems is
    reported as a failure instead (and in offline mode one that reached
    another host)."""

    djperf_session: TestSession

    if TYPE_CHECKING:  # given by the unittest result this class is mixed into

        def addFailure(self, test: unittest.TestCase, err: Any) -> None: ...

    def startTest(self, test: unittest.TestCase) -> None:
        records.test_started(functools.partial(_unittest_target, test))
        session = self.djperf_session
        self._djperf_capture: TestCapture | None = TestCapture() if session.mode.on else None
        self._djperf_mark = session.offline_mark()
        self._djperf_open = True
        super().startTest(test)  # type: ignore[misc]

    def _djperf_finish(self, test: unittest.TestCase, *, passed: bool) -> str | None:
        if not getattr(self, "_djperf_open", False):
            return None
        self._djperf_open = False
        session = self.djperf_session
        capture, self._djperf_capture = self._djperf_capture, None
        failure = None
        if capture is not None:
            failure = session.finish_test(test.id(), capture, strict=None if passed else False)
        refused = session.offline_end(test.id(), self._djperf_mark)
        self.djperf_sent(test)
        failures = [text for text in (failure, refused) if text is not None]
        return "\n".join(failures) if passed and failures else None

    def djperf_sent(self, test: unittest.TestCase) -> None:
        """Hand the test's findings on (a --parallel worker sends them)."""

    def addSuccess(self, test: unittest.TestCase) -> None:
        failure = self._djperf_finish(test, passed=True)
        if failure is not None:
            # No traceback: the findings say where and what to change.
            self.addFailure(test, (AssertionError, AssertionError(failure), None))
            return
        super().addSuccess(test)  # type: ignore[misc]

    def stopTest(self, test: unittest.TestCase) -> None:
        # Every other outcome: the test's own result stands.
        self._djperf_finish(test, passed=False)
        super().stopTest(test)  # type: ignore[misc]


def _unittest_target(test: unittest.TestCase) -> records.Target:
    return records.target_for(inspect.getfile(type(test)), records.unittest_key(test))


class DjperfRemoteTestResult(_CapturingResult, RemoteTestResult):
    """A --parallel worker's result: sends each test's findings to the main
    process as one more event, which its result's ``djperf_test`` receives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.djperf_session = _worker_session()

    def djperf_sent(self, test: unittest.TestCase) -> None:
        session = self.djperf_session
        if session.suite.tests or session.reached:
            payload = json.dumps(
                {"suite": session.suite.dumps(), "reached": session.dumps_reached()}
            )
            self.events.append(("djperf_test", self.test_index, payload))
            session.suite.tests.clear()
            session.reached.clear()


_worker: TestSession | None = None


def _worker_session() -> TestSession:
    """The worker process's session (its offline guard installed once)."""
    global _worker
    if _worker is None:
        _worker = TestSession(Mode.from_json(os.environ[_MODE_VARIABLE]))
        if _worker.mode.on:
            _worker.load_allow_list(conf.root() / "pyproject.toml")
        if _worker.guard is not None:
            _worker.guard.install()
    return _worker


class DjperfRemoteTestRunner(RemoteTestRunner):
    resultclass = DjperfRemoteTestResult


class DjperfParallelTestSuite(ParallelTestSuite):
    runner_class = DjperfRemoteTestRunner


class _MergingResult:
    """The main process's result in a --parallel run: merges the workers' findings."""

    djperf_session: TestSession

    def djperf_test(self, test: unittest.TestCase, payload: str) -> None:
        data = json.loads(payload)
        self.djperf_session.suite.merge(data["suite"])
        self.djperf_session.merge_reached(data["reached"])


class DjperfRunnerMixin:
    """djperf's modes for any Django test runner::

    class Runner(DjperfRunnerMixin, TheirRunner):
        pass
    """

    def __init__(
        self,
        *args: Any,
        djperf: bool = False,
        djperf_strict: bool = False,
        djperf_report: str | None = None,
        djperf_show_test_code: bool = False,
        djperf_offline: str | None = None,
        djperf_offline_allow: list[str] | None = None,
        djperf_record: str | None = None,
        djperf_prune: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        records.choose_mode(djperf_record)
        # --djperf-prune: the directories of the test modules run.
        self.djperf_prune: set[Path] | None = set() if djperf_prune else None
        setting = conf.get("TEST_MODE")
        self.djperf_session = TestSession(
            Mode(
                capture=djperf or djperf_show_test_code or setting == "report",
                strict=djperf_strict or setting == "strict",
                report=djperf_report or _path(conf.get("TEST_REPORT")),
                show_test_code=djperf_show_test_code,
                offline=djperf_offline or conf.get("OFFLINE"),
                offline_allow=(*conf.get("OFFLINE_ALLOW"), *(djperf_offline_allow or ())),
            )
        )
        if self.djperf_session.mode.on:
            try:
                self.djperf_session.load_allow_list(conf.root() / "pyproject.toml")
            except AllowListError as error:
                raise CommandError(f"djperf allow-list: {error}") from None
        if self._djperf_active:
            # --parallel workers (forked or spawned) read the mode from their
            # environment and send their findings back as result events.
            os.environ[_MODE_VARIABLE] = self.djperf_session.mode.to_json()
            self.parallel_test_suite: type[ParallelTestSuite] = DjperfParallelTestSuite

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)  # type: ignore[misc]
        group = parser.add_argument_group("djperf")
        for flag, options in OPTIONS:
            group.add_argument(flag, **options)

    @property
    def _djperf_active(self) -> bool:
        session = self.djperf_session
        return session.mode.on or session.guard is not None

    def setup_test_environment(self, **kwargs: Any) -> None:
        super().setup_test_environment(**kwargs)  # type: ignore[misc]
        if self.djperf_session.guard is not None:
            self.djperf_session.guard.install()

    def teardown_test_environment(self, **kwargs: Any) -> None:
        if self.djperf_session.guard is not None:
            self.djperf_session.guard.uninstall()
        super().teardown_test_environment(**kwargs)  # type: ignore[misc]

    def get_resultclass(self) -> type[unittest.TextTestResult] | None:
        chosen = super().get_resultclass()  # type: ignore[misc]
        session = self.djperf_session
        base = chosen or unittest.TextTestResult
        if not self._djperf_active:
            # Only so that djperf.testing.record() knows the test it is in.
            return type(f"Djperf{base.__name__}", (_NamingResult, base), {})
        # In a --parallel run the workers capture; this process only merges.
        role = _MergingResult if getattr(self, "parallel", 1) > 1 else _CapturingResult
        return type(f"Djperf{base.__name__}", (role, base), {"djperf_session": session})

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        result = super().run_suite(suite, **kwargs)  # type: ignore[misc]
        session = self.djperf_session
        if self._djperf_active:
            self._djperf_print(session)
        if session.mode.on:
            session.write_report()
        os.environ.pop(_MODE_VARIABLE, None)
        if self.djperf_prune is not None:
            pruned = records.prune(records.files_under(sorted(self.djperf_prune)))
            sys.stderr.write(
                f"djperf: pruned {len(pruned)} record(s) of tests that no longer exist\n"
            )
            for path, key in pruned:
                sys.stderr.write(f"  {path.name}: {key}\n")
        return result

    def suite_result(self, suite: Any, result: Any, **kwargs: Any) -> int:
        failed: int = super().suite_result(suite, result, **kwargs)  # type: ignore[misc]
        session = self.djperf_session
        return failed + len(session.suite_failure()) + (1 if session.allow_failure() else 0)

    def _djperf_print(self, session: TestSession) -> None:
        out = sys.stderr
        out.write("\n" + " djperf ".center(80, "=") + "\n")
        for line in session.offline_summary():
            out.write(line + "\n")
        if not session.mode.on:
            return
        for line in session.summary():
            out.write(line + "\n")
        failing = session.suite_failure()
        if failing:
            out.write(
                f"\ndjperf strict mode: {len(failing)} eager load(s) that no test of the "
                "run used:\n"
            )
            out.write("\n".join(failing) + "\n")
        expired = session.allow_failure()
        if expired:
            out.write("\n" + "\n".join(expired) + "\n")
        if session.mode.report is not None:
            out.write(f"djperf report: {session.mode.report}\n")


class DjperfRunner(DjperfRunnerMixin, DiscoverRunner):
    """Django's DiscoverRunner with djperf's modes: ``TEST_RUNNER =
    "djperf.testing.DjperfRunner"``, then ``manage.py test --djperf``."""


def _tests_of(suite: Any) -> Iterator[unittest.TestCase]:
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from _tests_of(test)
        elif isinstance(test, unittest.TestCase):
            yield test


def _path(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)
