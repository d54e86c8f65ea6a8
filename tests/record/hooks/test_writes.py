"""The writes hook: operations, and what a save or a keyed write tells about its rows."""

from __future__ import annotations

import pytest

import djperf
from tests.testapp.models import Book, SluggedTag, Tag

pytestmark = pytest.mark.django_db


def test_a_save_names_the_class_of_the_saved_instance(library):
    with djperf.capture() as rec:
        Tag.objects.create(name="plain")
        SluggedTag.objects.create(name=" Proxied ")
        Tag.objects.filter(name="plain").update(name="changed")
    inserts = [q for q in rec.queries if q.fingerprint.startswith("INSERT")]
    assert [q.saved_model for q in inserts] == ["testapp.Tag", "testapp.SluggedTag"]
    [update] = [q for q in rec.queries if q.fingerprint.startswith("UPDATE")]
    assert update.saved_model is None  # a queryset update() saves no instance


def test_updates_of_the_same_row_share_their_where_key(library):
    first, second = Book.objects.order_by("pk")[:2]
    with djperf.capture() as rec:
        for title in ("a", "b"):
            first.title = title
            first.save(update_fields=["title"])
        second.title = "c"
        second.save(update_fields=["title"])
    keys = [q.where_key for q in rec.queries if q.fingerprint.startswith("UPDATE")]
    assert len(keys) == 3 and None not in keys
    assert keys[0] == keys[1] != keys[2]


def test_reads_have_no_where_key(library):
    with djperf.capture() as rec:
        list(Book.objects.filter(pk=1))
    assert [q.where_key for q in rec.queries] == [None]


def test_nothing_is_noted_outside_a_capture(library):
    from djperf.record.hooks._state import SAVING

    Tag.objects.create(name="outside")
    assert SAVING.get() is None


def _rename(tag, name):
    tag.name = name
    tag.save(update_fields=["name"])


def test_a_write_knows_the_line_that_called_its_function(library):
    tag = Tag.objects.first()
    with djperf.capture() as rec:
        _rename(tag, "one")  # first-caller
        _rename(tag, "two")  # second-caller
        list(Tag.objects.all())
    updates = [q for q in rec.queries if q.fingerprint.startswith("UPDATE")]
    assert [q.caller.function for q in updates] == [
        "test_a_write_knows_the_line_that_called_its_function"
    ] * 2
    assert updates[0].caller.line + 1 == updates[1].caller.line
    assert {q.location.function for q in updates} == {"_rename"}
    [read] = [q for q in rec.queries if q.fingerprint.startswith("SELECT")]
    assert read.caller is None  # only writes look for it
