"""SQL fingerprints: one string per query shape.

Two statements share a fingerprint when they differ only in values: literals
and placeholders become ``#``, an ``IN`` list of any length becomes
``IN (...)``, a multi-row ``VALUES`` list keeps one row, savepoint and
server-side cursor names become ``#``, identifier quoting (``"t"."c"`` on
PostgreSQL and SQLite, `` `t`.`c` `` on MySQL) is dropped, comments are
removed and whitespace collapsed. The shape of ``WHERE`` stays visible:
``id = #`` and ``id IN (...)`` differ, and so do ``IS NULL`` and ``= #``.

It is a single regular-expression pass plus a few substitutions, with a cache
keyed by the SQL text: Django sends the same text with ``%s`` placeholders for
every row of an N+1, so most calls are a dictionary hit.
benchmarks/fingerprint.py compares it with sqlparse.
"""

from __future__ import annotations

import re

__all__ = ["fingerprint"]

# Literals that can hold anything (quotes, digits, keywords), removed first.
# Identifiers containing a quote are not expected (Django never makes them).
# An unterminated comment, string or dollar quote runs to the end of the
# text: without the \Z the engine would rescan the rest of the statement from
# every later opener, quadratic in its length.
_LITERAL_TEMPLATE = r"""
      (?P<comment>/\*.*?(?:\*/|\Z)|--[^\n]*)
    | (?P<string>(?:(?<!\w)[EeXxBbNn])?'{body}(?:'|\Z))
    | (?P<dollar>\$(?P<tag>[A-Za-z_]\w*)?\$.*?(?:\$(?P=tag)?\$|\Z))
    """
# Standard SQL (SQLite, PostgreSQL): a quote is escaped by doubling it; a
# backslash is an ordinary character ('C:\' is a whole string).
_LITERAL = re.compile(_LITERAL_TEMPLATE.format(body=r"(?:[^']|'')*"), re.VERBOSE | re.DOTALL)
# MySQL and MariaDB also escape with a backslash: 'it\'s'.
_LITERAL_BACKSLASH = re.compile(
    _LITERAL_TEMPLATE.format(body=r"(?:[^'\\]|\\.|'')*"), re.VERBOSE | re.DOTALL
)
_DOUBLE_QUOTED = re.compile(r'"((?:[^"]|"")*)"')
_BACK_QUOTED = re.compile(r"`((?:[^`]|``)*)`")
# Numbers (not digits inside identifiers) and every placeholder style:
# %s, %(name)s, ?, ?3, $1, :name (but not a PostgreSQL ::cast).
_VALUE = re.compile(
    r"""
    # A lookahead on the first character lets the engine skip most positions
    # (measured: 2.5x faster on Django's statements).
    (?=[\d.%?$:])(?:
      (?<![\w.$])(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)(?![\w$])
    | %\(\w+\)s|%s|\?\d*|\$\d+|(?<![:\w]):[A-Za-z_]\w*
    )""",
    re.VERBOSE,
)
_SAVEPOINT = re.compile(
    r"\b(SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+TO\s+SAVEPOINT)\s+[^\s;]+",
    re.IGNORECASE,
)
# Server-side cursors Django names _django_curs_<thread>_<sync|async>_<n>.
_CURSOR_NAME = re.compile(r'"?_django_curs_\d+_\w+?_\d+"?')
# IN (#, #, #) and row-value IN ((#, #), (#, #)), after whitespace is
# collapsed; a value may carry a PostgreSQL cast (#::integer).
_IN_VALUE = r"#(?:::\w+)?"
_IN_ROW = rf"\({_IN_VALUE}(?:, ?{_IN_VALUE})*\)"
_IN_LIST = re.compile(
    rf"\bIN ?\((?:{_IN_VALUE}(?:, ?{_IN_VALUE})*|{_IN_ROW}(?:, ?{_IN_ROW})*)\)",
    re.IGNORECASE,
)
# VALUES (..), (..), ... keeps its first row; a row may hold calls: (#, NOW()).
_ROW = r"\((?:[^()]|\([^()]*\))*\)"
_VALUES = re.compile(rf"\b(VALUES ?{_ROW})(?:, ?{_ROW})+", re.IGNORECASE)

# SQL text -> (that text, its fingerprint), one cache per quoting convention.
# The text kept is the first one seen: events of one statement share it
# rather than each holding a copy. Bounded by entries and by characters (an
# IN list of each length is a new text), and cleared when full, so memory
# stays bounded in a long-running process. Texts too long to be worth keeping
# are fingerprinted every time.
_caches: dict[bool, dict[str, tuple[str, str]]] = {False: {}, True: {}}
_CACHE_SIZE = 4096
_CACHE_CHARS = 2_000_000
_LONGEST_CACHED = 4096
_cached_chars = 0


# Statements Django sends to manage transactions and connections: not the
# work of the code that ran them (Django's assertNumQueries counts them; the
# query count assertions and verify() do not).
TRANSACTION_STATEMENTS = (
    "SAVEPOINT",
    "RELEASE SAVEPOINT",
    "ROLLBACK",
    "BEGIN",
    "COMMIT",
    "START TRANSACTION",
    "SET ",
)


def is_transaction(fingerprint: str) -> bool:
    """Whether a statement (its fingerprint) manages a transaction or connection."""
    return fingerprint.startswith(TRANSACTION_STATEMENTS)


def fingerprint(sql: str, *, backslash_escapes: bool = False) -> str:
    """The shape of `sql`: equal for statements that differ only in values.

    `backslash_escapes` is for MySQL and MariaDB, whose strings also escape a
    quote with a backslash; standard SQL does not.
    """
    return shared(sql, backslash_escapes=backslash_escapes)[1]


def shared(sql: str, *, backslash_escapes: bool = False) -> tuple[str, str]:
    """`sql` as a text equal to it that other events share, and its fingerprint."""
    global _cached_chars
    cache = _caches[backslash_escapes]
    cached = cache.get(sql)
    if cached is not None:
        return cached
    result = (sql, _fingerprint(sql, backslash_escapes))
    if len(sql) <= _LONGEST_CACHED:
        if len(cache) >= _CACHE_SIZE or _cached_chars >= _CACHE_CHARS:
            _caches[False].clear()
            _caches[True].clear()
            _cached_chars = 0
        cache[sql] = result
        _cached_chars += len(sql) + len(result[1])
    return result


def _literal(match: re.Match[str]) -> str:
    return " " if match.lastgroup == "comment" else "#"


def _fingerprint(sql: str, backslash_escapes: bool = False) -> str:
    # Each pass runs only when the text can contain what it rewrites: most of
    # Django's statements need the identifier and value passes alone.
    text = sql
    upper = text.upper()
    if "SAVEPOINT" in upper:
        text = _SAVEPOINT.sub(r"\1 #", text)
    if "_django_curs_" in text:
        text = _CURSOR_NAME.sub("#", text)
    if "ESCAPE '\\'" in text:
        # Django's LIKE on SQLite: the only literal in most of its statements.
        text = text.replace("ESCAPE '\\'", "ESCAPE #")
    if "'" in text or "--" in text or "/*" in text or "$" in text:
        literal = _LITERAL_BACKSLASH if backslash_escapes else _LITERAL
        text = literal.sub(_literal, text)
    # Quotes left after the literal pass delimit identifiers; dropping them is
    # a plain replace unless an identifier escapes a quote by doubling it.
    if '"' in text:
        text = _DOUBLE_QUOTED.sub(_unquote_double, text) if '""' in text else text.replace('"', "")
    if "`" in text:
        text = _BACK_QUOTED.sub(_unquote_back, text) if "``" in text else text.replace("`", "")
    text = _VALUE.sub("#", text)
    text = " ".join(text.split())
    text = text.replace("( ", "(").replace(" )", ")").replace(" ,", ",")
    if "IN" in upper:
        text = _IN_LIST.sub("IN (...)", text)
    if "VALUES" in upper:
        text = _VALUES.sub(r"\1", text)
    return text


def _unquote_double(match: re.Match[str]) -> str:
    return match.group(1).replace('""', '"')


def _unquote_back(match: re.Match[str]) -> str:
    return match.group(1).replace("``", "`")
