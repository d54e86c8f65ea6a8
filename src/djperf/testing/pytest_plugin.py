"""djperf's pytest plugin, registered by entry point (``pytest11``): nothing to
add to a conftest.

- the ``djperf`` fixture: ``assert_num_queries``, ``assert_max_queries``,
  ``assert_constant_queries``, ``capture``, ``assert_no_warnings``;
- ``--djperf``: every test's call runs under ``djperf.capture()``; the run
  ends with a summary of the problems found, grouped by rule and line, each
  with the tests that hit it and its fix. Test outcomes do not change;
- ``--djperf-strict``: a test whose capture found a problem at warning level
  or above fails, with the findings as its failure; an eager load no test of
  the run used fails the run at the end;
- ``--djperf-report FILE``: every finding with its test's node id, as JSON;
- ``--djperf-show-test-code``: the summary also shows problems driven by
  test code only (a test calling the application in a loop);
- ``@pytest.mark.djperf(strict=True, ignore=["rule-id", ...])``: per test.

The capture covers the test function (and, for a unittest TestCase, its
setUp and tearDown), not pytest fixtures' set-up: fixtures build the data.
With pytest-xdist, each worker sends its findings to the main process, which
prints one summary and writes one report.

Django is not imported until a test runs under capture (pytest-django
configures it first).
"""

from __future__ import annotations

import functools
import unittest
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from djperf.conf import ConfigurationError
from djperf.testing import offline, records
from djperf.testing.allow import AllowListError
from djperf.testing.methods import DjperfAssertions
from djperf.testing.session import OPTIONS, Mode, TestCapture, TestSession

_SESSION = pytest.StashKey[TestSession]()

# The width the summary is wrapped to: it fits an 80-column terminal.
_SUMMARY_WIDTH = 80


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("djperf", "djperf: Django performance problems in your tests")
    for flag, options in OPTIONS:
        group.addoption(flag, **options)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "djperf(strict=None, ignore=()): run this test under djperf.capture(); strict=True "
        "fails it on findings at warning level or above; ignore lists rule ids to leave out.",
    )
    mode = Mode(
        capture=bool(config.getoption("djperf") or config.getoption("djperf_show_test_code")),
        strict=bool(config.getoption("djperf_strict")),
        report=config.getoption("djperf_report"),
        show_test_code=bool(config.getoption("djperf_show_test_code")),
        offline=config.getoption("djperf_offline"),
        offline_allow=tuple(config.getoption("djperf_offline_allow")),
    )
    session = config.stash[_SESSION] = TestSession(mode)
    records.choose_mode(config.getoption("djperf_record"))
    if session.guard is not None:
        session.guard.install()


def pytest_sessionstart(session: pytest.Session) -> None:
    djperf = session.config.stash[_SESSION]
    djperf.pyproject = session.config.rootpath / "pyproject.toml"
    if not djperf.mode.on or not _django_configured():
        return  # read at the first test that needs it
    try:
        djperf.load_allow_list()
    except (AllowListError, ConfigurationError) as error:
        raise pytest.UsageError(f"djperf: {error}") from None


def _django_configured() -> bool:
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - djperf depends on Django
        return False
    return settings.configured


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None and session.guard is not None:
        session.guard.uninstall()


class DjperfFixture(DjperfAssertions):
    """The ``djperf`` fixture: djperf's assertions, and record() for this test."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def record_target(self) -> records.Target:
        return _target(self._node)


@pytest.fixture(name="djperf")
def djperf_fixture(request: pytest.FixtureRequest) -> DjperfFixture:
    """djperf's assertions: ``djperf.assert_num_queries(n)``,
    ``djperf.assert_max_queries(n)``, ``djperf.assert_constant_queries(populate, action)``,
    ``djperf.record()``, ``djperf.capture()``, ``djperf.assert_no_warnings(recording)``."""
    return DjperfFixture(request.node)


def _target(item: pytest.Item) -> records.Target:
    """``test_x.perf.yml`` beside the test's module, keyed by the test's node id
    after the file (``TestCheckout::test_pay[card]``); a unittest TestCase's
    test as the manage.py runner keys it (``CheckoutTests.test_pay``)."""
    cls = getattr(item, "cls", None)
    if cls is not None and issubclass(cls, unittest.TestCase):
        key = f"{cls.__name__}.{getattr(item, 'originalname', None) or item.name}"
    else:
        key = records.pytest_key(item.nodeid)
    return records.target_for(item.path, key)


_CAPTURE = pytest.StashKey[TestCapture]()
_OPTIONS = pytest.StashKey[tuple[bool | None, tuple[str, ...]]]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # djperf.testing.record() without the fixture finds the test here.
    records.test_started(functools.partial(_target, item))
    session = item.config.stash[_SESSION]
    options = _marker_options(item)
    if not session.mode.on and options is None:
        return
    strict, ignore = options or (None, ())
    _check_rule_ids(ignore, item)
    item.stash[_OPTIONS] = (strict, ignore)
    # Opened before the fixtures, dormant until the test is called: an event
    # loop an async fixture starts copies the context, and with it this capture.
    item.stash[_CAPTURE] = TestCapture(dormant=True)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    # The set-up failed or skipped the test: its dormant capture saw nothing.
    capture = item.stash.get(_CAPTURE, None)
    if capture is not None:
        del item.stash[_CAPTURE]
        capture.close()


def _marker_options(item: pytest.Item) -> tuple[bool | None, tuple[str, ...]] | None:
    """The djperf marker's (strict, ignore), or None when the test has none."""
    marker = item.get_closest_marker("djperf")
    if marker is None:
        return None
    unknown = set(marker.kwargs) - {"strict", "ignore"}
    if marker.args or unknown:
        pytest.fail(
            f"{item.nodeid}: @pytest.mark.djperf takes strict= and ignore= only "
            f"(got {', '.join(map(repr, marker.args)) or ', '.join(sorted(unknown))})",
            pytrace=False,
        )
    ignore = marker.kwargs.get("ignore", ())
    if isinstance(ignore, str):
        pytest.fail(
            f"{item.nodeid}: @pytest.mark.djperf(ignore=...) takes a list of rule ids, "
            f"e.g. ignore=[{ignore!r}]",
            pytrace=False,
        )
    strict = marker.kwargs.get("strict")
    return (None if strict is None else bool(strict)), tuple(ignore)


_OFFLINE_MARK = pytest.StashKey[int]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Generator[None, Any, Any]:
    session = item.config.stash[_SESSION]
    if session.guard is None:
        return (yield)
    # Offline mode: what the test's set-up, call and teardown reached.
    item.stash[_OFFLINE_MARK] = session.offline_mark()
    try:
        return (yield)
    finally:
        session.offline_end(item.nodeid, item.stash[_OFFLINE_MARK])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    session = item.config.stash[_SESSION]
    # An xfail test's own failure is what pytest expects: djperf's would
    # turn an unexpected pass into the expected failure.
    may_fail = item.get_closest_marker("xfail") is None
    capture = item.stash.get(_CAPTURE, None)
    if capture is None:
        result = yield
        if may_fail:
            _fail_if_offline(session, item)
        return result
    del item.stash[_CAPTURE]
    strict, ignore = item.stash[_OPTIONS]
    capture.wake()
    try:
        result = yield
    except BaseException:
        # The test failed or was skipped on its own: keep its findings, add nothing.
        _finish(session, item, capture, strict=False, ignore=ignore)
        raise
    failure = _finish(session, item, capture, strict=strict, ignore=ignore)
    if may_fail:
        _fail_if_offline(session, item)
        if failure is not None:
            pytest.fail(failure, pytrace=False)
    return result


def _finish(
    session: TestSession,
    item: pytest.Item,
    capture: TestCapture,
    *,
    strict: bool | None,
    ignore: tuple[str, ...],
) -> str | None:
    try:
        return session.finish_test(item.nodeid, capture, strict=strict, ignore=ignore)
    except AllowListError as error:
        pytest.fail(f"djperf allow-list: {error}", pytrace=False)


def _fail_if_offline(session: TestSession, item: pytest.Item) -> None:
    """Block mode: fail a test that reached another host, even when its code
    caught the refusal."""
    if session.guard is None or not session.guard.block:
        return
    contacts = session.guard.since(item.stash.get(_OFFLINE_MARK, 0))
    if contacts:
        pytest.fail(offline.describe(contacts), pytrace=False)


def _check_rule_ids(ignore: tuple[str, ...], item: pytest.Item) -> None:
    if not ignore:
        return
    from djperf.detect import registry

    unknown = sorted(set(ignore) - set(registry.rules()))
    if unknown:
        pytest.fail(
            f"{item.nodeid}: @pytest.mark.djperf(ignore=...) names unknown rule id(s) "
            f"{', '.join(unknown)}; known: {', '.join(registry.rules())}",
            pytrace=False,
        )


# -- pytest-xdist: workers send their findings to the main process -------------------


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    output = getattr(node, "workeroutput", {})
    djperf = node.config.stash[_SESSION]
    if output.get("djperf"):
        djperf.suite.merge(output["djperf"])
    if output.get("djperf_offline"):
        djperf.merge_reached(output["djperf_offline"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    djperf = config.stash[_SESSION]
    if not _is_worker(config) and config.getoption("djperf_prune"):
        # Every record file under the paths the run was given (the root
        # directory without any), judged against its test module's source.
        places = [Path(arg.split("::")[0]) for arg in config.args] or [config.rootpath]
        try:
            djperf.pruned = records.prune(records.files_under(places))
        except Exception as error:
            djperf.pruned = []
            djperf.report_error = f"djperf: --djperf-prune stopped: {error}"
    if _is_worker(config):
        output = config.workeroutput  # type: ignore[attr-defined]
        if djperf.mode.on:
            output["djperf"] = djperf.suite.dumps()
        if djperf.guard is not None:
            output["djperf_offline"] = djperf.dumps_reached()
        return
    if not djperf.mode.on:
        return
    djperf.write_report()
    failing = djperf.suite_failure() or djperf.allow_failure()
    if failing and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    djperf = config.stash[_SESSION]
    if _is_worker(config):
        return
    if config.getoption("djperf_prune"):
        terminalreporter.write_line(
            f"djperf: pruned {len(djperf.pruned)} record(s) of tests that no longer exist"
        )
        for path, key in djperf.pruned:
            terminalreporter.write_line(f"  {path.name}: {key}")
    if djperf.guard is not None and not djperf.mode.on:
        terminalreporter.write_sep("=", "djperf")
        for line in djperf.offline_summary():
            terminalreporter.write_line(line)
    if not djperf.mode.on:
        return
    terminalreporter.write_sep("=", "djperf")
    for line in djperf.offline_summary():
        terminalreporter.write_line(line)
    for line in djperf.summary(width=_SUMMARY_WIDTH):
        terminalreporter.write_line(line)
    failing = djperf.suite_failure()
    if failing:
        terminalreporter.write_line("")
        terminalreporter.write_line(
            f"djperf strict mode: {len(failing)} eager load(s) that no test of the run used:",
            red=True,
        )
        for block in failing:
            for line in block.splitlines():
                terminalreporter.write_line(line)
    expired = djperf.allow_failure()
    if expired:
        terminalreporter.write_line("")
        terminalreporter.write_line(expired[0], red=True)
        for line in expired[1:]:
            terminalreporter.write_line(line)
    if djperf.report_error is not None:
        terminalreporter.write_line(djperf.report_error, red=True)
    elif djperf.mode.report is not None:
        terminalreporter.write_line(f"djperf report: {djperf.mode.report}")
