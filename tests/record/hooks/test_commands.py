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


def _migrate_handle_directly():
    """What a project's reset command does: migrate's handle(), not execute()."""
    from django.core.management.commands.migrate import Command

    command = Command(stdout=StringIO())
    options = vars(command.create_parser("manage.py", "migrate").parse_args([]))
    options.update(verbosity=0, interactive=False, skip_checks=True)
    command.handle(**options)


def _count_shelves(sender, **kwargs):
    """A project's post_migrate receiver, reading the same row every run."""
    from tests.testapp.models import Publisher

    Publisher.objects.filter(pk=1).first()


def test_each_run_of_migrate_called_by_another_command_is_its_own(library):
    # A project's reset command runs migrate's handle() once per app: the
    # post_migrate receivers read the same rows in every run. The runs
    # repeat them, no run does.
    from django.apps import apps
    from django.db.models.signals import post_migrate

    testapp = apps.get_app_config("testapp")
    post_migrate.connect(_count_shelves, sender=testapp, dispatch_uid="djperf-test")
    try:
        with djperf.capture() as rec:
            for _ in range(3):
                _migrate_handle_directly()
    finally:
        post_migrate.disconnect(sender=testapp, dispatch_uid="djperf-test")
    requests = {q.request for q in rec.queries if "testapp_publisher" in q.sql}
    assert None not in requests and len(requests) == 3
    assert [f for f in rec.findings if f.rule == "duplicate-query"] == []
