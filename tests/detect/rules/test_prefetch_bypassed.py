"""prefetch-bypassed: a prefetched relation refined again queries again; must not flag the rest."""

from __future__ import annotations

import pytest
from django.db.models import Prefetch

import djperf
from tests.helpers import line, of
from tests.testapp.models import Author, Book

pytestmark = pytest.mark.django_db
HERE = __file__


# -- must flag --------------------------------------------------------------------


def test_prefetch_filtered_again(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):  # bypass-origin
            list(author.books.filter(title__endswith="0"))  # bypass-access
    [finding] = of(rec, "prefetch-bypassed")
    assert (finding.model, finding.field, finding.count) == ("testapp.Author", "books", 4)
    assert "Prefetch('books', queryset=Book.objects.filter(...)" in finding.fix.text
    assert str(finding.location) == line(HERE, "bypass-access")
    assert str(finding.origin) == line(HERE, "bypass-origin")


def test_prefetch_reordered_again(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):
            list(author.books.order_by("-title"))
    assert len(of(rec, "prefetch-bypassed")) == 1


# -- must not flag -------------------------------------------------------------------


def test_prefetch_not_bypassed_when_all_is_used(library):
    with djperf.capture() as rec:
        for author in Author.objects.prefetch_related("books"):
            list(author.books.all())
    assert rec.findings == []


def test_prefetch_not_bypassed_with_a_prefetch_object(library):
    with djperf.capture() as rec:
        authors = Author.objects.prefetch_related(
            Prefetch("books", queryset=Book.objects.filter(title__endswith="0"), to_attr="firsts")
        )
        for author in authors:
            list(author.firsts)
    assert rec.findings == []


def test_prefetch_not_bypassed_without_a_prefetch(library):
    with djperf.capture() as rec:
        Author.objects.first().books.filter(title__endswith="0").first()
    assert of(rec, "prefetch-bypassed") == []
