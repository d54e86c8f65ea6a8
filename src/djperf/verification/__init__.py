"""``djperf.verify(func, findings)``: prove that the suggested fixes work.

verify runs ``func`` once as it is, then once per finding with that
finding's fix applied where the queryset is evaluated (its origin), then once
with every applicable fix together, each inside ``djperf.capture()``. It
reports queries and time before and after, and whether ``func`` returned the
same result::

    with djperf.capture() as rec:
        list_products()
    for trial in djperf.verify(list_products, rec.findings).trials:
        print(trial)   # catalogue.Product.brand: 201 -> 1 queries, 38 ms -> 4 ms, same result

Fixes that change the queryset (select_related, prefetch_related, only, defer)
are applied: while ``func`` runs, an evaluation at the finding's origin gets the
lookup added just before Django compiles it (rewrites.py). Fixes that change
the code around it (bulk_update, get_many, a timeout...) are not: the trial
says so rather than guess. ``func`` must be repeatable: wrap work that writes
in a transaction that rolls back (the demo shop's scenarios do).

(The package is ``verification`` rather than ``verify``: importing a
subpackage named ``verify`` would set the attribute ``djperf.verify`` to it,
hiding the public function.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from djperf.findings import Finding
from djperf.verification.rewrites import APPLICABLE, Rewrite
from djperf.verification.runs import Run, Trial, Verification, run, same_result

__all__ = ["Run", "Trial", "Verification", "verify"]


def verify(func: Callable[[], Any], findings: Iterable[Finding], *, runs: int = 5) -> Verification:
    """Run `func` before and after each finding's fix; see the module docstring.

    Every variant (as it is, each applicable fix, all fixes together) runs
    `runs` times, the variants taking turns round after round, so that a slow
    spell of the machine falls on all of them; times are the median, and a
    difference inside the spread of the runs reads "same time".

    An exception from `func` as it is propagates: there is nothing to compare.
    An exception from `func` with a fix applied is reported on that trial.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    before = run(func)
    # Per finding: its Trial when the fix was not applied, else its index in
    # `applied` (the fix, and its first run).
    outcomes: list[Trial | int] = []
    applied: list[tuple[Finding, Rewrite, Run]] = []
    for finding in findings:
        reason = _applicable(finding)
        if reason is None:
            assert finding.fix is not None and finding.origin is not None
            rewrite = Rewrite(finding.origin, finding.fix)
            try:
                after = run(func, (rewrite,))
            except Exception as error:
                reason = (
                    f"with the fix, {_callable_name(func)} raised {type(error).__name__}: {error}"
                )
            else:
                reason = _refused(finding, rewrite)
        if reason is None:
            outcomes.append(len(applied))
            applied.append((finding, rewrite, after))
        else:
            outcomes.append(Trial(_name(finding), finding, applied=False, reason=reason))
    combined: Run | Exception | None = None
    if len(applied) >= 2:
        try:
            combined = run(func, tuple(rewrite for _, rewrite, _ in applied))
        except Exception as error:
            combined = error
    # The other rounds: every variant once per round, starting one further
    # along each round, so that no variant always runs first (warm caches).
    afters = [after for _, _, after in applied]
    variants: list[tuple[Rewrite, ...] | None] = [None, *((r,) for _, r, _ in applied)]
    if isinstance(combined, Run):
        variants.append(tuple(rewrite for _, rewrite, _ in applied))
    for round_number in range(1, runs):
        shift = round_number % len(variants)
        for slot in [*range(shift, len(variants)), *range(shift)]:
            rewrites = variants[slot]
            seconds = run(func, tuple(_fresh(r) for r in rewrites or ())).seconds
            if slot == 0:
                before = before.timed(seconds)
            elif slot <= len(applied):
                afters[slot - 1] = afters[slot - 1].timed(seconds)
            elif isinstance(combined, Run):
                combined = combined.timed(seconds)
    trials = [
        outcome
        if isinstance(outcome, Trial)
        else Trial(
            _name(applied[outcome][0]),
            applied[outcome][0],
            True,
            before=before,
            after=afters[outcome],
            same_result=same_result(before, afters[outcome]),
        )
        for outcome in outcomes
    ]
    return Verification(before=before, trials=trials, combined=_combined(func, before, combined))


def _refused(finding: Finding, rewrite: Rewrite) -> str | None:
    """Why no queryset took the fix during its run, or None when one did."""
    if rewrite.applied:
        return None
    assert finding.fix is not None
    if rewrite.refused:
        return rewrite.refused[0]
    return (
        f"no queryset evaluated at {finding.origin} could take {finding.fix.text}"
        " (already there, or another model)"
    )


def _fresh(rewrite: Rewrite) -> Rewrite:
    """The same change, with nothing noted yet of where it applied."""
    return Rewrite(rewrite.origin, rewrite.fix)


def _name(finding: Finding) -> str:
    what = f"{finding.model}.{finding.field}" if finding.model and finding.field else finding.rule
    return f"{what} ({finding.rule})"


def _applicable(finding: Finding) -> str | None:
    """Why the fix of `finding` cannot be applied automatically, or None."""
    if finding.fix is None:
        return "no fix to apply"
    if finding.fix.method not in APPLICABLE:
        return f"{finding.fix.method} changes the code around the query: apply it by hand"
    if finding.origin is None:
        return "the queryset was evaluated outside the captured code"
    if not finding.fix.lookup:
        return "no lookup to add"
    return None


def _combined(func: Callable[[], Any], before: Run, after: Run | Exception | None) -> Trial | None:
    if after is None:
        return None
    name = "all fixes together"
    if isinstance(after, Exception):
        reason = f"{_callable_name(func)} raised {type(after).__name__}: {after}"
        return Trial(name, None, applied=False, reason=reason)
    return Trial(
        name, None, True, before=before, after=after, same_result=same_result(before, after)
    )


def _callable_name(func: Callable[[], Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)
