"""The admin hook: which ModelAdmin an admin changelist's querysets and counts belong to."""

from __future__ import annotations

import pytest

import djperf
from tests.helpers import class_line, page

pytestmark = pytest.mark.django_db


def test_the_page_and_its_counts_name_their_model_admin(staff):
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    [evaluation] = [e for e in rec.evaluations if e.model == "testapp.Book"]
    assert str(evaluation.admin) == class_line("BookAdmin")
    assert evaluation.admin.function == "BookAdmin"
    counts = [q for q in rec.queries if q.fingerprint.upper().startswith("SELECT COUNT(*)")]
    assert counts, "the changelist counted no rows"
    assert {str(q.admin) for q in counts} == {class_line("BookAdmin")}


def test_statements_outside_the_changelist_name_no_admin(staff):
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    session_reads = [q for q in rec.queries if "django_session" in q.sql]
    assert session_reads and all(q.admin is None for q in session_reads)


def test_not_marked_outside_a_capture(staff):
    # Without a capture the admin's querysets and counts go through untouched.
    from django.contrib.admin.views.main import ChangeList

    from djperf.record.hooks.admin import MARK

    response = page(staff, "/admin/testapp/book/")
    changelist = response.context["cl"]
    assert isinstance(changelist, ChangeList)
    assert MARK not in changelist.queryset.query.__dict__
