"""``djperf.capture()``: open a recording scope, and run the rules when it closes.

This floor composes the two below it: ``record`` fills a Recording while the
block runs, ``detect`` turns it into findings at exit. Recording never imports
detection (tests/test_layers.py checks it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from djperf import conf
from djperf._errors import contain
from djperf.detect import registry
from djperf.detect.rules import unused_eager_load
from djperf.record import hooks
from djperf.record.scope import Options, Recording, close_scope, open_scope


class _Setting:
    """The default of an option whose None means something: read the setting."""


_SETTING = _Setting()


class capture:
    """Record the queries, queryset evaluations and lazy loads of a block.

    ::

        with djperf.capture() as rec:
            list_books()
        rec.queries      # [Query(sql=..., fingerprint=..., location=...), ...]
        rec.lazy_loads   # every relation loaded one instance at a time
        rec.findings     # computed when the block exits

    Works as ``async with`` too. Scopes nest; each records what happens inside
    it. Query parameters are stored only with ``capture_params=True``.

    A recording holds at most ``max_memory_mb`` (default
    ``DJPERF["MAX_MEMORY_MB"]``, 50) of events: past it, repeats of an event
    already seen are counted in ``rec.summaries`` rather than kept, and
    ``rec.summarized`` is true. ``None`` keeps every event.
    """

    def __init__(
        self,
        *,
        capture_params: bool | None = None,
        stacks: bool | None = None,
        detectors: Iterable[str] | None = None,
        thresholds: Mapping[str, Mapping[str, Any]] | None = None,
        max_memory_mb: float | _Setting | None = _SETTING,
    ) -> None:
        if isinstance(max_memory_mb, _Setting):
            max_memory_mb = conf.get("MAX_MEMORY_MB")
        if max_memory_mb is not None and (
            isinstance(max_memory_mb, bool)
            or not isinstance(max_memory_mb, (int, float))
            or max_memory_mb <= 0
        ):
            raise ValueError(
                f"max_memory_mb must be a positive number of megabytes or None, "
                f"not {max_memory_mb!r}"
            )
        self.options = Options(
            capture_params=(
                bool(conf.get("CAPTURE_PARAMS")) if capture_params is None else capture_params
            ),
            stacks=bool(conf.get("STACKS")) if stacks is None else stacks,
            detectors=None if detectors is None else _rule_ids(detectors),
            thresholds=_checked_thresholds(thresholds or {}),
            max_memory=None if max_memory_mb is None else int(max_memory_mb * 1024 * 1024),
        )
        self.recording: Recording | None = None

    def __enter__(self) -> Recording:
        if self.recording is not None:
            raise RuntimeError("a capture() scope cannot be entered twice; create a new one")
        hooks.install()
        hooks.scope_opened()
        rec = self.recording = Recording(self.options)
        open_scope(rec)
        rec.started = time.perf_counter()
        return rec

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        rec = self.recording
        assert rec is not None, "__exit__ without __enter__"
        rec.duration = time.perf_counter() - rec.started
        close_scope(rec)
        hooks.scope_closed()
        rec.findings = registry.run(rec)
        if rec.evaluations:
            try:
                rec.eager_loads = unused_eager_load.eager_loads(rec)
            except Exception:
                contain("eager-load sites")

    async def __aenter__(self) -> Recording:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def _rule_ids(detectors: Iterable[str]) -> frozenset[str]:
    if isinstance(detectors, str):
        raise TypeError(f"detectors must be a list of rule ids, e.g. [{detectors!r}], not a string")
    selected = frozenset(detectors)
    unknown = sorted(selected - set(registry.rules()))
    if unknown:
        known = ", ".join(registry.rules()) or "none registered"
        raise ValueError(f"unknown rule id(s): {', '.join(unknown)}; known: {known}")
    return selected


def _checked_thresholds(
    thresholds: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    registry.check_settings()
    if not thresholds:
        return {}
    _rule_ids(thresholds)
    for rule, values in thresholds.items():
        registry.thresholds(rule, values)  # raises on an unknown threshold
    return {rule: dict(values) for rule, values in thresholds.items()}
