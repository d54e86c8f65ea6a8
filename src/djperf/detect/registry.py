"""The rule registry: every runtime rule, its default thresholds and its detector.

A rule is one module under ``djperf/detect/rules/`` named after its id, which
creates a `Rule` from its own name (the id cannot drift from the module) and
decorates its detector, a pure function from a Recording to findings::

    # djperf/detect/rules/n_plus_one.py
    rule = Rule(__name__, reads=("lazy_loads",), count=2)

    @rule.detects
    def n_plus_one(recording: Recording, thresholds: Thresholds) -> Iterable[Finding]:
        ...
        yield rule.finding(message=..., severity="warning", ...)

``reads`` names the Recording's lists the detector looks at: a recording
with all of them empty is not shown to it (an empty scope, or a test with no
HTTP call, costs nothing for the rules that could find nothing). The other
keyword arguments are the rule's thresholds and their defaults; the
``DJPERF["THRESHOLDS"]`` setting overrides them for the project and
``capture(thresholds=...)`` for one capture. ``rule.finding`` builds a
Finding with the rule's id already set. Adding a rule is three files (the
module, tests/detect/rules/test_<id>.py, docs/rules/<id>.md) and its row in
docs/rules/index.md; tests/detect/test_rule_docs.py holds them together.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from djperf import conf
from djperf._errors import contain
from djperf.detect._loops import judging
from djperf.detect._work import in_test_code
from djperf.findings import SEVERITIES, Finding
from djperf.record.scope import Recording

Thresholds = Mapping[str, Any]
Detector = Callable[[Recording, Thresholds], Iterable[Finding]]

_rules: dict[str, Rule] = {}
# _rules sorted by id; emptied whenever a rule is registered or removed.
_in_order: list[tuple[str, Rule]] = []
_loaded = False
# The Recording's lists of events a rule may read.
RECORDED = ("queries", "lazy_loads", "evaluations", "http_calls", "cache_calls")


class Rule:
    """A runtime rule: its id, its default thresholds and its detector.

    `module` is the defining module's ``__name__``: its last part, with
    dashes for underscores, is the id (``djperf.detect.rules.n_plus_one`` is
    ``n-plus-one``). Creating a Rule registers it.
    """

    def __init__(
        self, module: str, *, reads: tuple[str, ...] | None = None, **defaults: Any
    ) -> None:
        self.id = module.rsplit(".", 1)[-1].replace("_", "-")
        if reads is not None and (not reads or set(reads) - set(RECORDED)):
            raise ValueError(f"rule {self.id!r}: reads must name some of {RECORDED}, not {reads}")
        # None: shown every recording.
        self.reads = reads
        self.defaults: dict[str, Any] = dict(defaults)
        self.detector: Detector | None = None
        # Finding(rule=<this id>, ...): every finding of the rule carries its id.
        self.finding = functools.partial(Finding, self.id)
        if self.id in _rules:
            raise ValueError(f"rule {self.id!r} is already registered")
        _rules[self.id] = self
        _in_order.clear()
        _configured.pop(self.id, None)

    def detects(self, detector: Detector) -> Detector:
        """Decorator: `detector` is this rule's."""
        self.detector = detector
        return detector

    def __repr__(self) -> str:
        return f"<Rule {self.id}>"


def unregister(rule: str) -> None:
    _rules.pop(rule, None)
    _in_order.clear()
    _configured.pop(rule, None)


def get(rule: str) -> Rule:
    _load()
    return _rules[rule]


def defaults(rule: str) -> dict[str, Any]:
    """The documented default thresholds of `rule`."""
    _load()
    found = _rules.get(rule)
    return dict(found.defaults) if found is not None else {}


# rule -> defaults merged with DJPERF["THRESHOLDS"]; cleared when settings change.
_configured: dict[str, dict[str, Any]] = {}
_settings_checked = False


def _clear_configured() -> None:
    global _settings_checked
    _configured.clear()
    _settings_checked = False


conf.on_change(_clear_configured)


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
    """Import every module of djperf.detect.rules so its rule registers itself."""
    global _loaded
    if _loaded:
        return
    import djperf.detect.rules as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    _loaded = True


def rules() -> list[str]:
    """The ids of every registered rule, sorted."""
    _load()
    return sorted(_rules)


def _sorted_rules() -> list[tuple[str, Rule]]:
    """The registered rules by id (kept until one is registered or removed)."""
    if not _in_order:
        _in_order[:] = sorted(_rules.items())
    return _in_order


def run(recording: Recording) -> list[Finding]:
    """Every finding of the selected rules, most costly first.

    A detector that raises is logged and skipped: the other rules still report.
    """
    _load()
    selected = recording.options.detectors
    findings: list[Finding] = []
    shown = [
        (rule_id, rule)
        for rule_id, rule in _sorted_rules()
        if rule.detector is not None
        and (selected is None or rule_id in selected)
        # Nothing it looks at was recorded: an empty scope runs no rule.
        and (rule.reads is None or any(getattr(recording, name) for name in rule.reads))
    ]
    if not shown:
        return findings
    with judging(recording.queries):
        for rule_id, rule in shown:
            assert rule.detector is not None
            try:
                limits = thresholds(rule_id, recording.options.thresholds.get(rule_id))
                findings.extend(_one_per_problem(_tests_own(rule.detector(recording, limits))))
            except Exception:
                contain(f"detector {rule_id}")
    if recording.summaries:
        findings = [_noting_summaries(f, recording) for f in findings]
    # Most costly first: time when it was measured, then how often.
    findings.sort(key=lambda f: (-f.duration, -f.count))
    return findings


def _noting_summaries(finding: Finding, recording: Recording) -> Finding:
    """`finding`, saying how many more events like its own the recording
    only counted (it held its memory budget): the rule judged the kept ones."""
    rule = _rules.get(finding.rule)
    kinds = rule.reads if rule is not None and rule.reads is not None else RECORDED
    more = sum(
        summary.count
        for summary in recording.summaries.values()
        if summary.count and summary.kind in kinds and summary.location == finding.location
    )
    if not more:
        return finding
    return dataclasses.replace(
        finding,
        message=f"{finding.message} Past the capture's memory budget (max_memory_mb), "
        f"{more} more events like these at this line were counted, not kept: "
        "the numbers above are of the kept ones.",
    )


def _tests_own(findings: Iterable[Finding]) -> Iterable[Finding]:
    """A finding located in test code is the test's: in_tests, and info
    (what a test does costs no user a thing)."""
    for finding in findings:
        ours = finding.in_tests or in_test_code(finding.location)
        if ours and (not finding.in_tests or finding.severity != "info"):
            finding = dataclasses.replace(finding, in_tests=True, severity="info")
        yield finding


# Numbers in a message: counts and times differ between two requests that
# show the same problem.
_NUMBERS = re.compile(r"\d+(?:\.\d+)?")


@functools.lru_cache(maxsize=1024)
def _numberless(message: str) -> str:
    return _NUMBERS.sub("#", message)


def _one_per_problem(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per problem, however many requests (or calls, or
    evaluations at one line) showed it: the same rule, place, fix and message
    but for its numbers."""
    problems: dict[tuple[Any, ...], list[Finding]] = {}
    for finding in findings:
        key = (
            _numberless(finding.message),
            finding.location,
            finding.origin,
            finding.model,
            finding.field,
            finding.fix.text if finding.fix is not None else None,
            finding.in_tests,
        )
        problems.setdefault(key, []).append(finding)
    merged = []
    for same in problems.values():
        if len(same) == 1:
            merged.append(same[0])
            continue
        worst = max(same, key=lambda f: (SEVERITIES.index(f.severity), f.count, f.duration))
        merged.append(
            dataclasses.replace(
                worst,
                count=max(f.count for f in same),
                duration=sum(f.duration for f in same),
                message=f"{worst.message} Seen {len(same)} times in this capture "
                "(in separate requests, or calls of the same code).",
            )
        )
    return merged
