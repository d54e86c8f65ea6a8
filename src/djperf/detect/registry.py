"""The detector registry: rule ids to pure functions from a Recording to Findings.

A rule family is one module under ``djperf/detect/`` that registers itself::

    @register("n-plus-one", count=2)
    def n_plus_one(recording: Recording, thresholds: Mapping[str, Any]) -> Iterable[Finding]:
        ...

The keyword arguments are the rule's thresholds and their defaults; the
``DJPERF["THRESHOLDS"]`` setting overrides them for the project and
``capture(thresholds=...)`` for one capture. Adding a rule touches that
module, its test module and docs/rules/<id>.md.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from djperf import conf
from djperf.detect.findings import Finding
from djperf.record.recorder import Recording, contain

Detector = Callable[[Recording, Mapping[str, Any]], Iterable[Finding]]

_detectors: dict[str, Detector] = {}
_defaults: dict[str, dict[str, Any]] = {}
_loaded = False


def register(rule: str, **defaults: Any) -> Callable[[Detector], Detector]:
    def decorator(detector: Detector) -> Detector:
        if rule in _detectors and _detectors[rule] is not detector:
            raise ValueError(f"rule {rule!r} already has a detector")
        _detectors[rule] = detector
        _defaults[rule] = defaults
        _configured.pop(rule, None)
        return detector

    return decorator


def unregister(rule: str) -> None:
    _detectors.pop(rule, None)
    _defaults.pop(rule, None)
    _configured.pop(rule, None)


def defaults(rule: str) -> dict[str, Any]:
    """The documented default thresholds of `rule`."""
    _load()
    return dict(_defaults.get(rule, {}))


# rule -> defaults merged with DJPERF["THRESHOLDS"]; cleared when settings change.
_configured: dict[str, dict[str, Any]] = {}


_settings_checked = False


def _clear_configured() -> None:
    global _settings_checked
    _configured.clear()
    _settings_checked = False


def check_settings() -> None:
    """Raise ConfigurationError for an unknown rule or threshold in
    DJPERF["THRESHOLDS"]: at capture(), not silently when detectors run."""
    global _settings_checked
    if _settings_checked:
        return
    configured = conf.get("THRESHOLDS")
    unknown = sorted(set(configured) - set(rules()))
    if unknown:
        raise conf.ConfigurationError(
            f'DJPERF["THRESHOLDS"] names unknown rule(s): {", ".join(unknown)}; '
            f"known: {', '.join(rules())}"
        )
    for rule, values in configured.items():
        if not isinstance(values, Mapping):
            raise conf.ConfigurationError(
                f'DJPERF["THRESHOLDS"][{rule!r}] must be a dict of thresholds, '
                f"e.g. {defaults(rule)!r}"
            )
        try:
            thresholds(rule)
        except ValueError as error:
            raise conf.ConfigurationError(f'DJPERF["THRESHOLDS"]: {error}') from None
    _settings_checked = True


conf.on_change(_clear_configured)


def thresholds(rule: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then DJPERF["THRESHOLDS"], then the capture's own."""
    configured = _configured.get(rule)
    if configured is None:
        configured = _merged(rule, defaults(rule), conf.get("THRESHOLDS").get(rule, {}))
        _configured[rule] = configured
    return _merged(rule, configured, overrides) if overrides else configured


def _merged(rule: str, base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(layer) - set(base))
    if unknown:
        raise ValueError(
            f"unknown threshold(s) for {rule}: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(base)) or 'none'}"
        )
    return {**base, **layer}


def _load() -> None:
    """Import every module of djperf.detect so its rules register themselves."""
    global _loaded
    if _loaded:
        return
    import djperf.detect as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in ("findings", "registry") and not module.name.startswith("_"):
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
            limits = thresholds(rule, recording.options.thresholds.get(rule))
            findings.extend(detector(recording, limits))
        except Exception:
            contain(f"detector {rule}")
    # Most costly first: time when it was measured, then how often.
    findings.sort(key=lambda f: (-f.duration, -f.count))
    return findings
