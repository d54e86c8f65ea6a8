"""A test that needs a missing server skips with a one-line reason; under CI=true it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    os.environ.get("DJPERF_TEST_DB", "sqlite") != "sqlite",
    reason="runs its own pytest sessions; once per suite run is enough",
)


def run_suite_against_a_closed_port(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJPERF_TEST_DB": "postgres",
        "DJPERF_PG_PORT": "1",  # nothing listens there
        "CI": "true" if ci else "",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_cli.py",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_missing_server_skips_with_a_reason():
    result = run_suite_against_a_closed_port(ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    reasons = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert reasons
    assert "PostgreSQL is not reachable at 127.0.0.1:1" in reasons[0]
    assert "DJPERF_TEST_DB=sqlite" in reasons[0]


def test_missing_server_fails_under_ci():
    result = run_suite_against_a_closed_port(ci=True)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "PostgreSQL is not reachable at 127.0.0.1:1" in output
    assert "CI=true: a missing server is a failure" in output
