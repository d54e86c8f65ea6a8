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

# One token per alternative; only tokens that change are matched, the rest of
# the text is copied as is.
_TOKEN = re.compile(
    r"""
      (?P<comment>/\*.*?\*/|--[^\n]*)
    | "(?P<dq>(?:[^"]|"")*)"
    | `(?P<bq>(?:[^`]|``)*)`
    | (?P<string>(?:(?<!\w)[EeXxBbNn])?'(?:[^'\\]|\\.|'')*')
    | (?P<dollar>\$(?P<tag>[A-Za-z_]\w*)?\$.*?\$(?P=tag)?\$)
    | (?P<number>(?<![\w.$])(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)(?![\w$]))
    | (?P<placeholder>%\(\w+\)s|%s|\?\d*|\$\d+|(?<![:\w]):[A-Za-z_]\w*)
    """,
    re.VERBOSE | re.DOTALL,
)

_SAVEPOINT = re.compile(
    r"\b(SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+TO\s+SAVEPOINT)\s+[^\s;]+",
    re.IGNORECASE,
)
# Server-side cursors Django names _django_curs_<thread>_<sync|async>_<n>.
_CURSOR_NAME = re.compile(r"_django_curs_\d+_\w+?_\d+")
_SPACE = re.compile(r"\s+")
# IN (#, #, #) and row-value IN ((#, #), (#, #)).
_IN_LIST = re.compile(
    r"\bIN\s*\(\s*(?:#(?:\s*,\s*#)*|\(\s*#(?:\s*,\s*#)*\s*\)(?:\s*,\s*\(\s*#(?:\s*,\s*#)*\s*\))*)\s*\)",
    re.IGNORECASE,
)
# VALUES (..), (..), ... keeps its first row.
_VALUES = re.compile(r"\b(VALUES\s*\([^()]*\))(?:\s*,\s*\([^()]*\))+", re.IGNORECASE)
_PUNCT_SPACE = re.compile(r"\(\s+|\s+\)|\s+,")

_cache: dict[str, str] = {}
# Enough for every distinct statement of a large test suite; cleared when full
# so memory stays bounded in a long-running process.
_CACHE_SIZE = 4096


def fingerprint(sql: str) -> str:
    """The shape of `sql`: equal for statements that differ only in values."""
    cached = _cache.get(sql)
    if cached is not None:
        return cached
    result = _fingerprint(sql)
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[sql] = result
    return result


def _token(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "dq":
        return match.group("dq").replace('""', '"')
    if kind == "bq":
        return match.group("bq").replace("``", "`")
    if kind == "comment":
        return " "
    # string, dollar (or its inner tag), number, placeholder
    return "#"


def _fingerprint(sql: str) -> str:
    text = _SAVEPOINT.sub(r"\1 #", sql)
    text = _CURSOR_NAME.sub("#", text)
    text = _TOKEN.sub(_token, text)
    text = _SPACE.sub(" ", text).strip()
    text = _PUNCT_SPACE.sub(_tighten, text)
    text = _IN_LIST.sub("IN (...)", text)
    text = _VALUES.sub(r"\1", text)
    return text


def _tighten(match: re.Match[str]) -> str:
    return match.group(0).strip()
