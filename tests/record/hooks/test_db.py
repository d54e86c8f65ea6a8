"""The database hook: every statement on every alias, with what a query carries."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import connection, connections

import djperf
from djperf import _errors
from djperf.record.hooks import db as db_hook
from tests.testapp.models import Author, Tag

pytestmark = pytest.mark.django_db(databases=["default", "other"])
# Other threads use their own connections: they must see committed data.
committed = pytest.mark.django_db(databases=["default", "other"], transaction=True)

HERE = "tests/record/hooks/test_db.py"


@pytest.fixture(autouse=True)
def _connected():
    # Connecting runs backend set-up statements (MySQL sets the isolation
    # level): do it before the scopes under test, so they see only the test's.
    for alias in ("default", "other"):
        connections[alias].ensure_connection()


@pytest.fixture
def author():
    return Author.objects.create(name="Ann")


def _line_of(marker: str) -> int:
    with open(__file__) as source:
        for number, line in enumerate(source, start=1):
            if marker in line and "_line_of" not in line:
                return number
    raise AssertionError(marker)


# -- what a query carries -------------------------------------------------------


def test_query_fields(author):
    with djperf.capture() as rec:
        Author.objects.filter(pk=author.pk).first()  # marker: first-query
    [query] = rec.queries
    assert "testapp_author" in query.sql
    assert query.fingerprint.startswith("SELECT testapp_author.id")
    assert query.params is None
    assert query.duration > 0
    assert query.alias == "default"
    assert query.many is False
    assert str(query.location) == f"{HERE}:{_line_of('marker: first-query')}"
    assert query.location.function == "test_query_fields"


def test_executemany(db):
    with djperf.capture(capture_params=True) as rec, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO testapp_tag (name) VALUES (%s)", iter([("a",), ("b",), ("c",)])
        )
    [query] = rec.queries
    assert query.many is True
    assert query.params == (("a",), ("b",), ("c",))
    assert Tag.objects.count() == 3


def test_executemany_without_params_leaves_the_iterator_to_the_driver(db):
    with djperf.capture() as rec, connection.cursor() as cursor:
        cursor.executemany("INSERT INTO testapp_tag (name) VALUES (%s)", iter([("a",), ("b",)]))
    assert rec.queries[0].many is True
    assert rec.queries[0].params is None
    assert Tag.objects.count() == 2


def test_failed_statement_is_recorded_and_raised(db):
    cursor = connection.cursor()
    with djperf.capture() as rec, pytest.raises(Exception):  # noqa: B017 - the driver's error
        cursor.execute("SELECT no_such_column FROM testapp_tag")
    cursor.close()
    assert len(rec.queries) == 1


def test_query_to_dict_is_json_ready(author):
    with djperf.capture(capture_params=True) as rec:
        list(Author.objects.filter(name="Ann"))
    data = json.loads(json.dumps(rec.queries[0].to_dict()))
    assert data["alias"] == "default"
    assert data["location"]["path"] == HERE


# -- aliases ----------------------------------------------------------------------


def test_every_alias(author):
    Author.objects.using("other").create(name="Bob")
    with djperf.capture() as rec:
        list(Author.objects.all())
        list(Author.objects.using("other").all())
    assert [q.alias for q in rec.queries] == ["default", "other"]


@committed
def test_connection_opened_inside_the_scope(author):
    connections["other"].close()
    # Forget this thread's wrapper for the alias: the next use creates and
    # connects a new one, inside the scope.
    del connections["other"]
    with djperf.capture() as rec:
        list(Author.objects.using("other").all())
    assert [q.alias for q in rec.queries if "testapp_author" in q.sql] == ["other"]


def test_wrapper_is_first_and_survives_user_wrappers(author):
    def user_wrapper(execute, sql, params, many, context):
        return execute(sql, params, many, context)

    list(Author.objects.all())
    with connection.execute_wrapper(user_wrapper):
        assert connection.execute_wrappers[0] is db_hook.djperf_execute_wrapper
    assert db_hook.djperf_execute_wrapper in connection.execute_wrappers
    with djperf.capture() as rec:
        list(Author.objects.all())
    assert len(rec.queries) == 1


def test_debug_cursor_is_not_forced(author):
    with djperf.capture():
        assert connection.force_debug_cursor is False
        list(Author.objects.all())
    assert connection.force_debug_cursor is False


# -- containment --------------------------------------------------------------


def test_hook_error_is_logged_and_contained(author, monkeypatch, caplog):
    def broken(sql, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(db_hook, "shared", broken)
    monkeypatch.setattr(_errors, "_reported", set())
    with caplog.at_level(logging.ERROR, logger="djperf"), djperf.capture() as rec:
        names = [a.name for a in Author.objects.all()]
    assert names == ["Ann"]
    assert rec.queries == []
    assert "internal error in the database hook" in caplog.text


@pytest.mark.django_db
def test_the_migration_recorders_reads_are_bookkeeping():
    # A project's own `migrate` command, or a TransactionTestCase's set-up,
    # reads the applied migrations: Django's work, never a finding.
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    with djperf.capture() as rec:
        MigrationRecorder(connection).applied_migrations()
        MigrationRecorder(connection).applied_migrations()
    reads = [q for q in rec.queries if "django_migrations" in q.sql]
    assert reads and {q.role for q in reads} == {"bookkeeping"}
    assert rec.findings == []


@pytest.mark.django_db
def test_the_permissions_auth_creates_after_migrate_are_bookkeeping():
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    with djperf.capture() as rec:
        create_permissions(apps.get_app_config("testapp"), verbosity=0)
    assert rec.queries and {q.role for q in rec.queries} == {"bookkeeping"}
