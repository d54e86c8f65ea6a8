"""The commands hook: each management command run inside a capture is a unit of its own."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

import djperf
from tests.helpers import of

pytestmark = pytest.mark.django_db


def _counts(rec):
    return [q for q in rec.queries if q.fingerprint.startswith("SELECT COUNT")]


def test_each_command_run_has_its_own_number(library):
    with djperf.capture() as rec:
        call_command("shelve", stdout=StringIO())
        call_command("shelve", stdout=StringIO())
    counts = _counts(rec)
    assert len(counts) == 2
    assert None not in {q.request for q in counts}
    assert len({q.request for q in counts}) == 2
    # The same count once per run: the runs repeat it, no run does.
    assert of(rec, "duplicate-query") == []


def test_a_command_repeating_a_query_in_one_run_is_flagged(library):
    with djperf.capture() as rec:
        call_command("shelve", twice=True, stdout=StringIO())
    [finding] = of(rec, "duplicate-query")
    assert finding.count == 2
    assert finding.location.path == "tests/testapp/management/commands/shelve.py"
    assert not finding.in_tests


def test_commands_run_by_a_command_have_their_own_numbers(library):
    with djperf.capture() as rec:
        call_command("shelve", runs=3, stdout=StringIO())
    counts = _counts(rec)
    assert len({q.request for q in counts}) == 3
    assert of(rec, "duplicate-query") == []


def test_a_command_has_no_number_without_a_capture():
    out = StringIO()
    call_command("shelve", unit=True, stdout=out)
    assert out.getvalue().strip() == "None"
    with djperf.capture():
        out = StringIO()
        call_command("shelve", unit=True, stdout=out)
    assert out.getvalue().strip().isdigit()
