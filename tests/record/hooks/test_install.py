"""install() and uninstall() of every hook together, and errors in any hook contained."""

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


def test_uninstall_restores_every_patch(reinstalled):
    import django
    from asgiref.sync import SyncToAsync
    from django.db.backends.signals import connection_created
    from django.db.models.deletion import Collector
    from django.db.models.query_utils import DeferredAttribute

    def owners():
        patched = {
            "SyncToAsync.__call__": SyncToAsync.__dict__["__call__"],
            "Collector.collect": Collector.__dict__["collect"],
        }
        if django.VERSION >= (6, 1):
            from django.db.models import fetch_modes

            patched["FetchOne.fetch"] = fetch_modes.FetchOne.__dict__["fetch"]
            patched["FetchPeers.fetch"] = fetch_modes.FetchPeers.__dict__["fetch"]
        else:
            from django.db.models.fields.related_descriptors import (
                ForwardManyToOneDescriptor,
            )

            patched["DeferredAttribute.__get__"] = DeferredAttribute.__dict__["__get__"]
            patched["ForwardManyToOneDescriptor.get_queryset"] = (
                ForwardManyToOneDescriptor.__dict__["get_queryset"]
            )
        # functools.wraps keeps the wrapped function's module, and sets __wrapped__.
        return {
            name: "djperf"
            if function.__module__.startswith("djperf.") or hasattr(function, "__wrapped__")
            else function.__module__
            for name, function in patched.items()
        }

    assert set(owners().values()) == {"djperf"}, owners()
    hooks.uninstall()
    assert "djperf" not in owners().values(), owners()
    assert not connection_created.has_listeners(type(connection)) or all(
        getattr(receiver, "__module__", "") != "djperf.record.hooks.db"
        for receiver in connection_created._live_receivers(type(connection))[0]
    )


@pytest.mark.parametrize(
    ("module", "function"),
    [
        ("djperf.record.hooks.orm", "begin_evaluation"),
        ("djperf.record.hooks.relations", "new_load"),
        ("djperf.record.hooks.orm", "PrefetchStep"),
        ("djperf.record.hooks.threads", "user_location"),
    ],
)
def test_errors_in_hooks_are_contained(module, function, monkeypatch, caplog):
    import importlib
    import logging

    from asgiref.sync import async_to_sync

    from djperf import _errors

    def broken(*args, **kwargs):
        raise RuntimeError(f"bug in {function}")

    monkeypatch.setattr(importlib.import_module(module), function, broken)
    monkeypatch.setattr(_errors, "_reported", set())
    author = Author.objects.create(name="A")
    Book.objects.create(title="T", author=author)

    def work():
        titles = [book.author.name for book in Book.objects.only("title")]
        titles += [b.title for a in Author.objects.prefetch_related("books") for b in a.books.all()]
        return titles

    async def awork():
        return await Author.objects.acount()

    expected = work()
    with caplog.at_level(logging.ERROR, logger="djperf"), djperf.capture():
        assert work() == expected
        assert async_to_sync(awork)() == 1
    assert "djperf: internal error" in caplog.text
