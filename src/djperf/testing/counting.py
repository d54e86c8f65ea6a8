"""Query count assertions: ``assert_num_queries(n)`` and ``assert_max_queries(n)``.

    with assert_num_queries(2):
        client.get("/orders/")

One counting rule for every assertion djperf has (these two and
``assert_constant_queries``): every database alias counts unless ``using``
names some, and the statements Django sends to manage transactions
(``SAVEPOINT``, ``RELEASE SAVEPOINT``, ``BEGIN``, ``COMMIT``, ``ROLLBACK``,
``SET ...``) do not, unless ``transactions=True``. So a count does not change
when a test moves from ``TestCase`` to ``TransactionTestCase``, or when the
code under test wraps itself in ``atomic()``.

A failure needs no ``-v``: it lists the statements grouped by fingerprint,
how many times each ran and from which lines, then the findings of the block.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from djperf.record.sql import is_transaction

if TYPE_CHECKING:
    from djperf._capture import capture
    from djperf.findings import Finding
    from djperf.record.events import Query
    from djperf.record.scope import Recording

# How many call sites a failure names per statement before "and N more".
_SITES_SHOWN = 3
# The widest a statement is printed; a longer one keeps its start and its end.
_SQL_WIDTH = 72


def counted(
    queries: Iterable[Query],
    *,
    using: str | Sequence[str] | None = None,
    transactions: bool = False,
) -> list[Query]:
    """The queries an assertion counts (see the module's docstring)."""
    aliases = _aliases(using)
    return [
        query
        for query in queries
        if (aliases is None or query.alias in aliases)
        and (transactions or not is_transaction(query.fingerprint))
    ]


def _aliases(using: str | Sequence[str] | None) -> frozenset[str] | None:
    if using is None:
        return None
    if isinstance(using, str):
        return frozenset({using})
    return frozenset(using)


def where_counted(using: str | Sequence[str] | None, transactions: bool) -> str:
    """What a count covered, in words: 'all databases; transaction statements not counted'."""
    if using is None:
        aliases = "all databases"
    elif isinstance(using, str):
        aliases = f"database {using!r}"
    else:
        aliases = "databases " + ", ".join(repr(alias) for alias in using)
    return f"{aliases}; transaction statements {'' if transactions else 'not '}counted"


class QueryCount:
    """The queries of a block, counted when it exits; an assertion on the count.

    Used through ``assert_num_queries`` and ``assert_max_queries``; after the
    block, ``queries`` holds the statements counted and ``recording`` the
    whole capture (its ``findings`` included).
    """

    def __init__(
        self,
        expected: int,
        *,
        exact: bool,
        using: str | Sequence[str] | None = None,
        transactions: bool = False,
    ) -> None:
        if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
            raise ValueError(f"the expected number of queries must be 0 or more, not {expected!r}")
        self.expected = expected
        self.exact = exact
        self.using = using
        self.transactions = transactions
        self.queries: list[Query] = []
        self.recording: Recording | None = None
        self._capture: capture | None = None

    def __enter__(self) -> QueryCount:
        from djperf._capture import capture

        # No memory cap: a count must see every statement.
        self._capture = capture(max_memory_mb=None)
        self.recording = self._capture.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        assert self._capture is not None and self.recording is not None
        self._capture.__exit__(exc_type, exc, tb)
        self.queries = counted(
            self.recording.queries, using=self.using, transactions=self.transactions
        )
        if exc_type is not None:
            return  # the block's own error says more than a count would
        found = len(self.queries)
        wrong = found != self.expected if self.exact else found > self.expected
        if wrong:
            raise AssertionError(self.failure())

    def failure(self) -> str:
        assert self.recording is not None
        found = len(self.queries)
        wanted = f"{self.expected}" if self.exact else f"at most {self.expected}"
        head = (
            f"Expected {wanted} {_queries(self.expected)}, {found} "
            f"{'was' if found == 1 else 'were'} run "
            f"({where_counted(self.using, self.transactions)}):"
        )
        parts = [wrapped(head)]
        if self.queries:
            parts.append(statements(self.queries))
        if self.recording.findings:
            parts.append(findings_text(self.recording.findings, "in the block"))
        return "\n".join(parts)


def assert_num_queries(
    expected: int,
    *,
    using: str | Sequence[str] | None = None,
    transactions: bool = False,
) -> QueryCount:
    """Fail unless the block runs exactly `expected` queries.

    ::

        with assert_num_queries(2):
            client.get("/orders/")

    All database aliases count unless `using` names one or several; transaction
    statements count only with ``transactions=True``.
    """
    return QueryCount(expected, exact=True, using=using, transactions=transactions)


def assert_max_queries(
    expected: int,
    *,
    using: str | Sequence[str] | None = None,
    transactions: bool = False,
) -> QueryCount:
    """Fail when the block runs more than `expected` queries (same counting
    as ``assert_num_queries``)."""
    return QueryCount(expected, exact=False, using=using, transactions=transactions)


def statements(queries: Sequence[Query]) -> str:
    """The queries grouped by fingerprint, most frequent first, each with its
    count and the lines that sent it::

          3x  SELECT ... FROM "shop_order" WHERE "shop_order"."id" = #
                shop/views.py:42 order_list (x3)
    """
    by_statement: dict[tuple[str, str], list[Query]] = {}
    for query in queries:
        by_statement.setdefault((query.alias, query.fingerprint), []).append(query)
    several_aliases = len({alias for alias, _ in by_statement}) > 1
    lines = []
    for (alias, fingerprint), group in sorted(by_statement.items(), key=lambda item: -len(item[1])):
        on = f"[{alias}] " if several_aliases else ""
        lines.append(f"  {len(group):>3}x  {on}{short_sql(fingerprint)}")
        sites = Counter(
            f"{q.location} {q.location.function}" if q.location else "(no line of yours)"
            for q in group
        )
        for site, times in sites.most_common(_SITES_SHOWN):
            lines.append(f"          {site}" + (f" (x{times})" if times > 1 else ""))
        if len(sites) > _SITES_SHOWN:
            lines.append(f"          and {len(sites) - _SITES_SHOWN} more lines")
    return "\n".join(lines)


def short_sql(fingerprint: str, width: int = _SQL_WIDTH) -> str:
    """A fingerprint shortened to `width`: a long column list becomes ``...``,
    then what is still too long loses its end (the table and the start of
    the WHERE clause say which statement it is)."""
    text = fingerprint
    upper = text.upper()
    if upper.startswith("SELECT ") and len(text) > width:
        end = upper.find(" FROM ")
        if end > len("SELECT ") + 3:
            text = "SELECT ..." + text[end:]
    if len(text) <= width:
        return text
    return text[: width - 4].rstrip() + " ..."


def wrapped(text: str, width: int = 80, indent: int = 2) -> str:
    """A long line of a failure message wrapped to `width`, the rest indented."""
    return "\n".join(
        textwrap.wrap(
            text,
            width,
            subsequent_indent=" " * indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
    )


def findings_text(findings: Sequence[Finding], where: str) -> str:
    """Findings as the blocks the terminal report prints, under one line."""
    count = len(findings)
    blocks = [f"djperf found {count} problem{'s' if count != 1 else ''} {where}:"]
    blocks += [str(finding) for finding in findings]
    return "\n".join(blocks)


def _queries(count: int) -> str:
    return "query" if count == 1 else "queries"
