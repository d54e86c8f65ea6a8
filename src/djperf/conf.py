"""The ``DJPERF`` setting: one dict, read through typed accessors.

    DJPERF = {
        "ROOT": BASE_DIR,            # locations are shown relative to this
        "CAPTURE_PARAMS": False,     # store query parameters (never by default)
        "STACKS": True,              # find the user line of each event
        "LIBRARY_PATHS": [],         # more paths whose frames are not user code
        "USER_PATHS": [],            # user code even inside site-packages
        "TEST_PATHS": None,          # glob patterns of test code (None: the defaults)
        "THRESHOLDS": {"n-plus-one": {"count": 3}},   # per rule, see docs/rules/
        "MAX_MEMORY_MB": 50,         # one capture's events; past it, repeats are counted
        "TEST_MODE": None,           # DjperfRunner without flags: None, "report" or "strict"
        "TEST_REPORT": None,         # DjperfRunner: write the findings as JSON to this file
        "OFFLINE": None,             # DjperfRunner: "block" or "report" tests reaching other hosts
        "OFFLINE_ALLOW": [],         # hosts offline mode allows beyond loopback, DATABASES, CACHES
        "ALLOW": [],                 # accepted findings: rule, where, reason, until (testing.md)
        "RECORD_MODE": None,         # record(): once, none, all, overwrite (None: CI -> none)
    }

Values are cached and re-read when ``override_settings`` changes ``DJPERF``.
Reading works without Django configured (the defaults apply), so the linter
and the CLI can import djperf anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "ROOT": None,
    "CAPTURE_PARAMS": False,
    "STACKS": True,
    "LIBRARY_PATHS": (),
    "USER_PATHS": (),
    # None: tests/ directories, test_*.py, *_test.py, *_tests.py, tests.py,
    # conftest.py (djperf.record.stack.DEFAULT_TEST_PATHS).
    "TEST_PATHS": None,
    "THRESHOLDS": {},
    # The most memory one capture's recording holds, in MB; past it, repeats
    # of an event already seen are counted, not kept. None: no cap.
    "MAX_MEMORY_MB": 50,
    # djperf.testing.DjperfRunner's mode when no --djperf flag is given:
    # None (off), "report" (like --djperf) or "strict" (like --djperf-strict).
    "TEST_MODE": None,
    # ... and where it writes the JSON report (like --djperf-report FILE).
    "TEST_REPORT": None,
    # DjperfRunner's offline mode (like --djperf-offline): None, "block" or
    # "report"; and the hosts it lets tests reach beyond loopback and the
    # database and cache hosts.
    "OFFLINE": None,
    "OFFLINE_ALLOW": (),
    # Findings a team accepted (djperf.testing.allow): entries with rule,
    # where, reason and an optional until date.
    "ALLOW": (),
    # djperf.testing.record()'s mode (--djperf-record): once, none, all or
    # overwrite; None: "none" when the CI environment variable is set, else "once".
    "RECORD_MODE": None,
}

TEST_MODES = (None, "report", "strict")

_listeners: list[Callable[[], None]] = []


class ConfigurationError(ValueError):
    """The DJPERF setting has a key or value djperf cannot use."""


def user_settings() -> dict[str, Any]:
    from django.conf import settings

    if not settings.configured:
        # Not remembered: the settings may be configured later in the run
        # (a test suite that configures Django in a fixture).
        return dict(DEFAULTS)
    return _configured()


@cache
def _configured() -> dict[str, Any]:
    from django.conf import settings

    configured = getattr(settings, "DJPERF", {}) or {}
    if not isinstance(configured, dict):
        raise ConfigurationError("settings.DJPERF must be a dict")
    unknown = sorted(set(configured) - set(DEFAULTS))
    if unknown:
        raise ConfigurationError(
            f"unknown DJPERF key(s): {', '.join(unknown)}; known: {', '.join(sorted(DEFAULTS))}"
        )
    merged = {**DEFAULTS, **configured}
    for key, kinds, expected in _TYPES:
        if not isinstance(merged[key], kinds) or (bool not in kinds and type(merged[key]) is bool):
            raise ConfigurationError(
                f'DJPERF["{key}"] must be {expected}, not {type(merged[key]).__name__}'
            )
    budget = merged["MAX_MEMORY_MB"]
    if budget is not None and budget <= 0:
        raise ConfigurationError(f'DJPERF["MAX_MEMORY_MB"] must be more than 0, not {budget!r}')
    if merged["RECORD_MODE"] not in (None, "once", "none", "all", "overwrite"):
        raise ConfigurationError(
            'DJPERF["RECORD_MODE"] must be None, "once", "none", "all" or "overwrite", '
            f"not {merged['RECORD_MODE']!r}"
        )
    if merged["OFFLINE"] not in (None, "block", "report"):
        raise ConfigurationError(
            f'DJPERF["OFFLINE"] must be None, "block" or "report", not {merged["OFFLINE"]!r}'
        )
    if merged["TEST_MODE"] not in TEST_MODES:
        raise ConfigurationError(
            f'DJPERF["TEST_MODE"] must be None, "report" or "strict", not {merged["TEST_MODE"]!r}'
        )
    return merged


_TYPES: tuple[tuple[str, tuple[type, ...], str], ...] = (
    ("ROOT", (str, os.PathLike, type(None)), "a path"),
    ("CAPTURE_PARAMS", (bool,), "True or False"),
    ("STACKS", (bool,), "True or False"),
    ("LIBRARY_PATHS", (list, tuple), "a list of paths"),
    ("USER_PATHS", (list, tuple), "a list of paths"),
    ("TEST_PATHS", (list, tuple, type(None)), "a list of glob patterns, or None"),
    ("THRESHOLDS", (dict,), "a dict of rule ids to dicts of thresholds"),
    ("MAX_MEMORY_MB", (int, float, type(None)), "a number of megabytes, or None"),
    ("TEST_MODE", (str, type(None)), 'None, "report" or "strict"'),
    ("TEST_REPORT", (str, os.PathLike, type(None)), "a path, or None"),
    ("OFFLINE", (str, type(None)), 'None, "block" or "report"'),
    ("OFFLINE_ALLOW", (list, tuple), "a list of host names"),
    ("ALLOW", (list, tuple), "a list of allow-list entries"),
    ("RECORD_MODE", (str, type(None)), 'None, "once", "none", "all" or "overwrite"'),
)


def get(key: str) -> Any:
    return user_settings()[key]


_first_cwd: Path | None = None


@cache
def root() -> Path:
    """The directory locations are shown relative to: DJPERF["ROOT"], or the
    current directory when djperf first needed it. (Remembered: a test that
    changes directory must not turn the next locations absolute, nor leave
    them so in djperf's per-file cache. Resolved once per setting: the rules
    ask for every line they read.)"""
    global _first_cwd
    value = get("ROOT")
    if value:
        return Path(value).resolve()
    if _first_cwd is None:
        _first_cwd = Path(os.getcwd()).resolve()
    return _first_cwd


def library_paths() -> tuple[str, ...]:
    return tuple(str(Path(p).resolve()) for p in get("LIBRARY_PATHS"))


def user_paths() -> tuple[str, ...]:
    return tuple(str(Path(p).resolve()) for p in get("USER_PATHS"))


def on_change(listener: Callable[[], None]) -> None:
    """Call `listener` whenever the DJPERF setting changes (override_settings)."""
    _listeners.append(listener)


def reset() -> None:
    _configured.cache_clear()
    root.cache_clear()
    for listener in _listeners:
        listener()


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DJPERF", "BASE_DIR"):
        reset()


def connect_signals() -> None:
    from django.core.signals import setting_changed

    setting_changed.connect(_setting_changed, dispatch_uid="djperf.conf")
