"""Backend selection for the suite: one pytest session per database.

`DJPERF_TEST_DB` is sqlite (default), postgres or mysql. When the server for
the chosen backend is not reachable, every test is skipped with a one-line
reason; under CI=true that is a failure instead, so a stopped server can never
pass CI by skipping.
"""

from __future__ import annotations

import os
import socket

import pytest

from shopsite.databases import server_address

BACKEND = os.environ.get("DJPERF_TEST_DB", "sqlite")
IN_CI = os.environ.get("CI", "").lower() == "true"
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mysql": "MariaDB/MySQL"}


def _server_problem(backend: str) -> str | None:
    if backend == "sqlite":
        return None
    host, port = server_address(backend)
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as error:
        return (
            f"{NAMES[backend]} is not reachable at {host}:{port} ({error.strerror or error}); "
            "start it (DEVELOPERS.md) or run with DJPERF_TEST_DB=sqlite"
        )


def pytest_configure(config: pytest.Config) -> None:
    if BACKEND not in NAMES:
        raise pytest.UsageError(f"DJPERF_TEST_DB={BACKEND!r}: choose one of {', '.join(NAMES)}")
    problem = _server_problem(BACKEND)
    if problem and IN_CI:
        raise pytest.UsageError(f"{problem} [CI=true: a missing server is a failure]")
    config.stash[_PROBLEM] = problem


_PROBLEM = pytest.StashKey[str | None]()


def pytest_report_header(config: pytest.Config) -> str:
    import django

    return f"djperf: database {NAMES[BACKEND]}, Django {django.get_version()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = config.stash[_PROBLEM]
    if problem:
        skip = pytest.mark.skip(reason=problem)
        for item in items:
            item.add_marker(skip)
