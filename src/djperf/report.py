"""The report in the terminal: one readable block per finding.

Findings are grouped by rule, the costliest rule first, and within a rule the
costliest finding first. Each block gives the rule, the relation or table, how
often, the time it cost, where it happens, where the queryset came from, and
the code to write; with a verification, the proof that the fix works::

    n-plus-one  catalogue.Product.brand  x200  5.2 ms
      Product.brand was loaded one product at a time: 200 queries, 5.2 ms. ...
      at       example/catalogue/templates/catalogue/product_list.html:8  {{ product.brand.name }}
      origin   example/catalogue/views.py:20  product_list_slow
      fix      .select_related('brand')
      proved   601 -> 401 queries, 350 ms -> 259 ms, same result
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from djperf.findings import Finding

if TYPE_CHECKING:
    # Only named in annotations: the report imports no Django (the linter will use it).
    from djperf.verification import Trial, Verification

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def sorted_by_cost(findings: Iterable[Finding]) -> list[list[Finding]]:
    """Findings grouped by rule: costliest rule first, costliest finding first."""
    groups: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        groups[finding.rule].append(finding)
    ordered = [sorted(group, key=lambda f: (-f.duration, -f.count)) for group in groups.values()]
    ordered.sort(key=lambda group: (-sum(f.duration for f in group), group[0].rule))
    return ordered


def _trials_by_finding(verification: Verification | None) -> dict[int, Trial]:
    if verification is None:
        return {}
    return {id(t.finding): t for t in verification.trials if t.finding is not None}


def render(
    findings: Sequence[Finding],
    console: Console,
    *,
    verification: Verification | None = None,
    indent: int = 0,
) -> None:
    """Print `findings` as blocks; with `verification`, each fix's proof."""
    pad = " " * indent
    if not findings:
        console.print(f"{pad}[green]clean: no findings")
        return
    trials = _trials_by_finding(verification)
    for group in sorted_by_cost(findings):
        for finding in group:
            # The same head, message and rows as str(finding), with colours.
            rule, what, count = finding.head_parts()
            head = Text(pad)
            head.append(rule, style=f"bold {SEVERITY_STYLE[finding.severity]}")
            if what:
                head.append(f"  {what}", style="bold")
            head.append(f"  {count}", style="dim")
            console.print(head)
            console.print(f"{pad}  {escape(finding.message)}", soft_wrap=False)
            rows = finding.rows()
            trial = trials.get(id(finding))
            if trial is not None:
                rows.append(("proved" if trial.applied else "proof", _proof(trial)))
            for label, value in rows:
                console.print(f"{pad}  [dim]{label:<8}[/dim] {escape(value)}")
    if verification is not None and verification.combined is not None:
        console.print(f"{pad}[bold]all fixes together:[/bold] {_proof(verification.combined)}")


def _proof(trial: Trial) -> str:
    text = str(trial)
    return text.split(": ", 1)[1] if ": " in text else text
