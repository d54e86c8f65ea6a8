from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import query as query_module
from django.db.models.fields import related_descriptors
from django.db.models.query import ModelIterable

import djperf
from djperf.record import hooks
from djperf.record.hooks import db as db_hook
from tests.testapp.models import Author, Book

pytestmark = pytest.mark.django_db


@pytest.fixture
def reinstalled():
    yield
    hooks.install()


def test_installed_by_the_app():
    assert hooks.installed()
    assert ModelIterable.__iter__.__module__ == "djperf.record.hooks.orm"


def test_install_is_idempotent():
    before = ModelIterable.__iter__
    hooks.install()
    hooks.install()
    assert ModelIterable.__iter__ is before


def test_uninstall_restores_django(reinstalled):
    list(Author.objects.all())  # make sure this thread's connection exists
    hooks.uninstall()
    assert not hooks.installed()
    assert ModelIterable.__iter__.__module__ == "django.db.models.query"
    assert query_module.prefetch_one_level.__module__ == "django.db.models.query"
    assert related_descriptors.create_reverse_many_to_one_manager.__name__ == (
        "create_reverse_many_to_one_manager"
    )
    assert db_hook.djperf_execute_wrapper not in connection.execute_wrappers


def test_capture_installs_on_demand(reinstalled):
    hooks.uninstall()
    author = Author.objects.create(name="A")
    Book.objects.create(title="T", author=author)
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.author  # noqa: B018
    assert hooks.installed()
    assert len(rec.queries) == 2
    assert [x.field for x in rec.lazy_loads] == ["author"]


def test_manager_classes_built_before_install_are_rebuilt(reinstalled):
    author = Author.objects.create(name="A")
    Book.objects.create(title="T", author=author)
    hooks.uninstall()
    author.books.all()  # Django builds and caches the manager class unwatched
    hooks.install()
    with djperf.capture() as rec:
        list(author.books.all())
    assert [x.field for x in rec.lazy_loads] == ["books"]


def test_idle_evaluation_returns_django_iterator():
    author = Author.objects.create(name="A")
    iterator = ModelIterable(Author.objects.all()).__iter__()
    assert (
        iterator.gi_code
        is ModelIterable.__dict__["__iter__"].__globals__["_original_model_iter"].__code__
    )
    assert next(iterator) == author
