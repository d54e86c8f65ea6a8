"""The rules' work at a scope's exit grows with the recording, not with its square.

A long capture (a management command, a big test) repeats many queries; the
rules ask the same questions of the same few source lines for each. These
tests count the work, never time it.
"""

from __future__ import annotations

import os

import pytest

import djperf
from djperf.detect import _loops
from tests.testapp.models import Book


def _fetch_each(keys: list[int]) -> list[str]:
    return [Book.objects.get(pk=pk).title for pk in keys]


def _capture_three_passes(count: int) -> djperf.Recording:
    keys = list(Book.objects.order_by("pk").values_list("pk", flat=True)[:count])
    with djperf.capture() as rec:
        for _ in range(3):
            _fetch_each(keys)
    return rec


@pytest.fixture
def books(db):
    from tests.testapp.models import Author

    author = Author.objects.create(name="A")
    Book.objects.bulk_create(Book(title=f"B{i}", author=author) for i in range(60))


def test_each_file_is_looked_at_once_per_run_of_the_rules(books, monkeypatch):
    stats: list[str] = []
    real_stat = os.stat

    def counting(path, *args, **kwargs):
        stats.append(str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr("djperf.detect._source.os.stat", counting)
    rec = _capture_three_passes(60)
    assert any(f.rule == "duplicate-query" for f in rec.findings)
    # 60 repeated get()s, every one asked about: this file stat'ed once
    # (os.stat is patched for everyone: count this file's only).
    assert [path for path in stats if path.endswith("test_scaling.py")] == [__file__]


def test_the_timeline_is_walked_once_per_pair_of_functions(books, monkeypatch):
    calls = {"count": 0}
    real = _loops.lines_of

    def counting(event):
        calls["count"] += 1
        return real(event)

    monkeypatch.setattr(_loops, "lines_of", counting)
    _capture_three_passes(20)
    small = calls["count"]
    calls["count"] = 0
    _capture_three_passes(60)
    large = calls["count"]
    # Three times the queries: about three times the work (it was nine).
    assert small > 0
    assert large <= 3.5 * small
