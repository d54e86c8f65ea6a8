"""The scaling assertion: the number of queries must not grow with the data.

    def populate(n):
        make_orders(n, lines=2)

    assert_constant_queries(populate, lambda: client.get("/orders/"))

A count fixed in a test (``assert_num_queries(4)``) passes for an N+1 as
long as the fixture holds one row. This assertion runs the action at two
sizes of data or more and passes when it asks the same at each:

1. warm up once (populate the smallest scale, run the action, roll back), so
   first-call work (content types, a cached site, a lazy setting) is not
   counted as growth;
2. for each scale, inside a transaction rolled back afterwards: populate(scale),
   then count what action() runs;
3. compare per statement (fingerprint): what grew, by how much per added row,
   from which line, and the findings of the largest run with their fix.

Statements are counted as ``assert_num_queries`` counts them (all aliases,
transaction statements left out). Cache operations and outbound HTTP calls
count too with ``cache=True`` / ``http=True``. ``per_row=k`` lets each added
row cost at most k more (legacy code being paid down); a failure still names
every statement that grew.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from djperf.record.scope import paused
from djperf.record.work import REQUEST, next_serial
from djperf.testing.counting import (
    counted,
    findings_text,
    short_sql,
    where_counted,
    wrapped,
)

if TYPE_CHECKING:
    from djperf.findings import Finding, Location
    from djperf.record.scope import Recording


class DjperfWarning(UserWarning):
    """A djperf assertion that may prove less than it seems (its data did not grow)."""


@dataclass
class _Scale:
    """What the action asked at one scale: counts per operation, and where from."""

    scale: int
    counts: Counter[str] = field(default_factory=Counter)
    # Per operation, the lines it was sent from and how often.
    sites: dict[str, Counter[Location | None]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def assert_constant_queries(
    populate: Callable[[int], Any],
    action: Callable[[], Any],
    scales: Sequence[int] = (1, 21),
    *,
    per_row: int = 0,
    cache: bool = False,
    http: bool = False,
    using: str | Sequence[str] | None = None,
    databases: Sequence[str] = ("default",),
) -> None:
    """Fail when `action` asks more of the database as `populate` adds rows.

    `populate(n)` creates the data for scale n (n orders, n products ...);
    `action()` does the work under test (a request, a function call). Each
    scale runs inside a transaction on each of `databases`, rolled back
    afterwards. See the module's docstring for what is counted and compared.
    """
    __tracebackhide__ = True
    scales = _checked(scales, per_row)
    with _rolled_back(databases):
        with paused():
            populate(scales[0])
        _run(action)  # warm-up: first-call work is not growth
    measured = []
    wrote_rows = False
    for scale in scales:
        with _rolled_back(databases):
            wrote_rows |= _populate(populate, scale)
            measured.append(_measure(action, scale, cache=cache, http=http, using=using))
    if not wrote_rows:
        warnings.warn(
            DjperfWarning(
                f"populate() inserted and deleted no row at scales {', '.join(map(str, scales))}: "
                "every scale ran on the same data, so assert_constant_queries proves "
                "nothing. Create n rows of what the action lists in populate(n)."
            ),
            stacklevel=_caller_level(),
        )
    first = measured[0]
    for later in measured[1:]:
        allowed = per_row * (later.scale - first.scale)
        if later.total - first.total > allowed or later.total < first.total - allowed:
            raise AssertionError(_failure(measured, per_row, using, cache=cache, http=http))


def _checked(scales: Sequence[int], per_row: int) -> list[int]:
    chosen = list(scales)
    if (
        len(chosen) < 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in chosen)
        or chosen != sorted(set(chosen))
    ):
        raise ValueError(
            f"scales must be two or more different whole numbers of rows, smallest first "
            f"(e.g. (1, 21)), not {scales!r}"
        )
    if isinstance(per_row, bool) or not isinstance(per_row, int) or per_row < 0:
        raise ValueError(f"per_row must be 0 or more queries per added row, not {per_row!r}")
    return chosen


class _Rollback(Exception):
    """Raised at the end of a scale's block to roll its transactions back."""


@contextlib.contextmanager
def _rolled_back(databases: Sequence[str]) -> Iterator[None]:
    from django.db import transaction

    try:
        with contextlib.ExitStack() as stack:
            for alias in databases:
                stack.enter_context(transaction.atomic(using=alias))
            yield
            raise _Rollback
    except _Rollback:
        pass


def _populate(populate: Callable[[int], Any], scale: int) -> bool:
    """populate(scale); whether it inserted or deleted rows (when no scale
    did, every scale held the same data and the assertion proves nothing)."""
    from djperf._capture import capture

    # Test data, not the test's work: the test's own capture (--djperf) does
    # not see it.
    with paused(), capture(detectors=[], stacks=False, max_memory_mb=None) as rec:
        populate(scale)
    return any(_adds_or_removes_rows(query.fingerprint) for query in rec.queries)


def _caller_level() -> int:
    """The stacklevel of the first frame outside djperf (the test's line)."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_DJPERF_DIR):
        frame, level = frame.f_back, level + 1
    return level


_DJPERF_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _adds_or_removes_rows(fingerprint: str) -> bool:
    return fingerprint[:7].upper() in ("INSERT ", "DELETE ") or fingerprint[:5].upper() == "COPY "


def _measure(
    action: Callable[[], Any],
    scale: int,
    *,
    cache: bool,
    http: bool,
    using: str | Sequence[str] | None,
) -> _Scale:
    from djperf._capture import capture

    with capture(max_memory_mb=None) as rec:
        _run(action)
    return _counts(rec, scale, cache=cache, http=http, using=using)


def _run(action: Callable[[], Any]) -> None:
    """One run of the action, as a unit of work of its own: a capture around
    the test (--djperf) judges each run alone, as it judges each request, so
    the same queries in the warm-up and at each scale are no repeat."""
    token = REQUEST.set(next_serial())
    try:
        result = action()
        # A TemplateResponse renders after the view returns: its template's
        # queries belong to the action (a test client has rendered it already).
        render = getattr(result, "render", None)
        if callable(render) and getattr(result, "is_rendered", True) is False:
            render()
    finally:
        REQUEST.reset(token)


def _counts(
    rec: Recording, scale: int, *, cache: bool, http: bool, using: str | Sequence[str] | None
) -> _Scale:
    measured = _Scale(scale, findings=list(rec.findings))
    for query in counted(rec.queries, using=using):
        key = f"sql {short_sql(query.fingerprint)}"
        measured.counts[key] += 1
        measured.sites.setdefault(key, Counter())[query.location] += 1
    if cache:
        for call in rec.cache_calls:
            key = f"cache {call.backend} {call.command}"
            measured.counts[key] += 1
            measured.sites.setdefault(key, Counter())[call.location] += 1
    if http:
        for request in rec.http_calls:
            key = f"http {request.method} {url_template(request.url)}"
            measured.counts[key] += 1
            measured.sites.setdefault(key, Counter())[request.location] += 1
    return measured


# Path segments that are values rather than names: numbers, UUIDs, hex ids.
_VALUE_SEGMENT = re.compile(r"^(\d+|[0-9a-fA-F-]{32,36}|[0-9a-fA-F]{16,})$")


def url_template(url: str) -> str:
    """``https://api.example.com/orders/42/lines`` -> ``api.example.com/orders/#/lines``."""
    parts = urlsplit(url)
    segments = ["#" if _VALUE_SEGMENT.match(s) else s for s in parts.path.split("/")]
    return f"{parts.hostname or ''}{'/'.join(segments)}"


def _failure(
    measured: list[_Scale],
    per_row: int,
    using: str | Sequence[str] | None,
    *,
    cache: bool,
    http: bool,
) -> str:
    what = ["queries"] + (["cache operations"] if cache else []) + (["HTTP calls"] if http else [])
    counted_what = ", ".join(what)
    totals = ", ".join(f"{m.total} at {m.scale} {_rows(m.scale)}" for m in measured)
    allowance = f" (+{per_row}/row allowed)" if per_row else ""
    lines = [
        wrapped(
            f"Expected the same number of {counted_what} at every scale{allowance}, got "
            f"{totals} ({where_counted(using, False)}):"
        )
    ]
    first, last = measured[0], measured[-1]
    added = last.scale - first.scale
    keys = sorted(
        set(first.counts) | set(last.counts),
        key=lambda key: -(last.counts[key] - first.counts[key]),
    )
    for key in keys:
        before, after = first.counts[key], last.counts[key]
        if before == after:
            continue
        grown = after - before
        per = f"{grown / added:+.3g}/row" if added else f"{grown:+d}"
        sites = last.sites.get(key) or first.sites.get(key) or Counter()
        site = sites.most_common(1)[0][0] if sites else None
        kind, _, text = key.partition(" ")
        label = "" if kind == "sql" else f"[{kind}] "
        lines.append(f"  {label}{text}")
        lines.append(f"      {before} -> {after} ({per})")
        if site is not None:
            lines.append(wrapped(f"      at {site}  {site.function}", indent=9))
            cause = _finding_at(last.findings, site)
            if cause is not None and cause.fix is not None:
                lines.append(wrapped(f"      {cause.rule}  fix: {cause.fix.text}", indent=9))
    if last.findings:
        lines.append(findings_text(last.findings, f"at scale {last.scale}"))
    return "\n".join(lines)


def _finding_at(findings: list[Finding], site: Location) -> Finding | None:
    """The finding about the line a grown statement came from (its fix is the cure)."""
    exact = [finding for finding in findings if finding.location == site]
    if exact:
        return exact[0]
    same_line = [
        finding
        for finding in findings
        if finding.location is not None
        and (finding.location.path, finding.location.line) == (site.path, site.line)
    ]
    return same_line[0] if len(same_line) == 1 else None


def _rows(scale: int) -> str:
    return "row" if scale == 1 else "rows"
