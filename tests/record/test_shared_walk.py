"""A statement run by a queryset evaluation shares the evaluation's walk to
the user line: one walk per get(), not two, with the same answer."""

from __future__ import annotations

import pytest

import djperf
from djperf.record import stack
from djperf.record.hooks import db as db_hook
from djperf.record.hooks import orm as orm_hook
from tests.testapp.models import Author, Book

pytestmark = pytest.mark.django_db


@pytest.fixture
def walks(monkeypatch):
    """Count the full walks the ORM and database hooks make."""
    counted = {"count": 0}
    real = stack.locate

    def counting(*args, **kwargs):
        counted["count"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(db_hook, "locate", counting)
    monkeypatch.setattr(orm_hook, "locate", counting)
    return counted


def _first_titles(keys):
    return [Book.objects.get(pk=pk).title for pk in keys]  # the-gets


def test_a_get_walks_once_and_its_statement_shares_the_walk(library, walks):
    keys = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec:
        _first_titles(keys)
    assert walks["count"] == len(keys)  # the evaluations' walks; none for the statements
    gets = [q for q in rec.queries if q.sql.startswith("SELECT")]
    assert len(gets) == len(keys)
    assert {str(q.location) for q in gets} == {str(e.location) for e in rec.evaluations}
    assert all(q.caller is not None for q in gets)


def _captured(keys):
    with djperf.capture() as rec:
        _first_titles(keys)
    return rec


def test_the_shared_walk_gives_what_a_walk_of_its_own_gives(library, monkeypatch):
    keys = list(Book.objects.values_list("pk", flat=True))
    runs = []
    for share in (True, False):
        if not share:
            monkeypatch.setattr(db_hook, "same_way_out", lambda frame, anchor: False)
        runs.append(_captured(keys))

    def sites(rec):
        return [
            (q.location, q.caller, q.outer, q.via, q.drive is None, q.sent, q.crossed)
            for q in rec.queries
        ]

    shared, own = runs
    assert len(shared.queries) == len(keys)
    assert sites(shared) == sites(own)


def test_a_third_party_frame_between_keeps_the_statements_own_walk(
    library, fakelib, walks, monkeypatch
):
    # A package that wraps Django's cursor (an APM agent, a metrics exporter)
    # runs between the evaluation and its statement.
    from django.db.backends import utils

    from tests.fakelib.cursor import wrapping

    monkeypatch.setattr(utils.CursorWrapper, "execute", wrapping(utils.CursorWrapper.execute))
    with djperf.capture() as rec:
        list(Author.objects.all())
    # The evaluation's walk, and the statement's own: it went through the package.
    assert walks["count"] == 2
    [query] = rec.queries
    assert query.via is not None
