"""The detector registry: rule ids to pure functions from a Recording to Findings.

A rule family is one module under ``djperf/detect/`` that registers itself::

    @register("n-plus-one")
    def n_plus_one(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
        ...

Adding a rule touches that module, its test module and docs/rules/<id>.md.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from djperf.detect.findings import Finding
from djperf.record.recorder import Recording, contain

Detector = Callable[[Recording, Mapping[str, Any]], Iterable[Finding]]

_detectors: dict[str, Detector] = {}
_loaded = False


def register(rule: str) -> Callable[[Detector], Detector]:
    def decorator(detector: Detector) -> Detector:
        if rule in _detectors and _detectors[rule] is not detector:
            raise ValueError(f"rule {rule!r} already has a detector")
        _detectors[rule] = detector
        return detector

    return decorator


def unregister(rule: str) -> None:
    _detectors.pop(rule, None)


def _load() -> None:
    """Import every module of djperf.detect so its rules register themselves."""
    global _loaded
    if _loaded:
        return
    import djperf.detect as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in ("findings", "registry"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    _loaded = True


def rules() -> list[str]:
    _load()
    return sorted(_detectors)


def run(recording: Recording) -> list[Finding]:
    """Every finding of the selected rules, most costly first.

    A detector that raises is logged and skipped: the other rules still report.
    """
    _load()
    selected = recording.options.detectors
    findings: list[Finding] = []
    for rule, detector in sorted(_detectors.items()):
        if selected is not None and rule not in selected:
            continue
        try:
            findings.extend(detector(recording, recording.options.thresholds.get(rule, {})))
        except Exception:
            contain(f"detector {rule}")
    findings.sort(key=lambda f: -f.count)
    return findings
