"""assert_constant_queries: the count must not grow with the data."""

from __future__ import annotations

import warnings

import pytest
from django.core.cache import cache

import djperf
from djperf.testing import DjperfWarning, assert_constant_queries
from djperf.testing.scaling import url_template
from tests.helpers import line
from tests.testapp.models import Author, Book, Publisher

pytestmark = pytest.mark.django_db


def make_books(n):
    publisher = Publisher.objects.create(name="P")
    for i in range(n):
        Book.objects.create(
            title=f"B{i}", author=Author.objects.create(name=f"A{i}"), publisher=publisher
        )


def names_slow():
    return [book.author.name for book in Book.objects.all()]  # slow-read


def names_fast():
    return [book.author.name for book in Book.objects.select_related("author")]


def test_passes_when_the_count_stays_the_same():
    assert_constant_queries(make_books, names_fast)


def test_fails_naming_what_grew_per_row_and_from_where():
    with pytest.raises(AssertionError) as failure:
        assert_constant_queries(make_books, names_slow)
    lines = str(failure.value).splitlines()
    assert lines[0] == (
        "Expected the same number of queries at every scale, got 2 at 1 row, 22 at 21"
    )
    assert lines[1] == "  rows (all databases; transaction statements not counted):"
    assert lines[2] == "  SELECT ... FROM testapp_author WHERE testapp_author.id = # LIMIT #"
    assert lines[3] == "      1 -> 21 (+1/row)"
    assert lines[4].startswith(f"      at {line(__file__, 'slow-read')}  ")
    assert lines[5] == "      n-plus-one  fix: .select_related('author')"
    assert "djperf found 1 problem at scale 21:" in lines
    assert "  fix      .select_related('author')" in lines


def test_every_scale_is_rolled_back():
    assert_constant_queries(make_books, names_fast, scales=(2, 5, 9))
    assert Book.objects.count() == 0
    assert Author.objects.count() == 0


def test_per_row_allows_that_many_more_queries_per_added_row():
    assert_constant_queries(make_books, names_slow, per_row=1)
    with pytest.raises(AssertionError, match=r"\(\+1/row allowed\)"):
        assert_constant_queries(make_books, lambda: (names_slow(), names_slow()), per_row=1)


def test_a_populate_that_adds_no_row_is_warned_about():
    def populate(n):
        Book.objects.filter(title="none").update(title="still none")

    with pytest.warns(DjperfWarning, match=r"inserted and deleted no row at scales 1, 21") as seen:
        assert_constant_queries(populate, names_slow)
    assert len(seen) == 1
    assert seen[0].filename == __file__  # the test's line, not djperf's


def test_a_populate_that_adds_rows_is_not_warned_about():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DjperfWarning)
        assert_constant_queries(make_books, names_fast)


def test_cache_operations_count_when_asked():
    def cached_names():
        for book in Book.objects.all():
            cache.get(f"book-{book.pk}")

    assert_constant_queries(make_books, cached_names)  # the queries alone are constant
    with pytest.raises(AssertionError) as failure:
        assert_constant_queries(make_books, cached_names, cache=True)
    text = str(failure.value)
    assert text.startswith(
        "Expected the same number of queries, cache operations at every scale, got 2 at"
    )
    assert "  [cache] cache:default get" in text.splitlines()


def test_the_test_capture_does_not_see_populate_nor_repeats_across_scales():
    with djperf.capture() as rec:
        assert_constant_queries(make_books, names_fast)
    # populate's per-row inserts are test data; the action ran three times
    # (warm-up and two scales), each judged alone.
    assert [f.rule for f in rec.findings] == []
    assert not any(q.fingerprint.startswith("INSERT") for q in rec.queries)


@pytest.mark.parametrize("scales", [(1,), (5, 1), (1, 1), (0.5, 2), (-1, 3), "12"])
def test_scales_must_grow(scales):
    with pytest.raises(ValueError, match="scales must be two or more different whole numbers"):
        assert_constant_queries(make_books, names_fast, scales=scales)


@pytest.mark.parametrize(
    ("url", "template"),
    [
        ("https://api.example.com/orders/42/lines", "api.example.com/orders/#/lines"),
        (
            "http://127.0.0.1:8000/v1/items/3f2b5c1e-8a4d-4b7e-9c2f-1a2b3c4d5e6f",
            "127.0.0.1/v1/items/#",
        ),
        ("https://example.com/", "example.com/"),
    ],
)
def test_url_template(url, template):
    assert url_template(url) == template


def test_http_calls_count_when_asked(upstream):
    import requests

    def gauges():
        for book in Book.objects.all():
            requests.get(f"{upstream}/nwis/iv/", params={"sites": book.pk}, timeout=5)

    with pytest.raises(AssertionError) as failure:
        assert_constant_queries(make_books, gauges, scales=(1, 3), http=True)
    text = str(failure.value)
    assert text.startswith("Expected the same number of queries, HTTP calls at every scale, got")
    assert "  [http] GET 127.0.0.1/nwis/iv/" in text.splitlines()
    assert "      1 -> 3 (+1/row)" in text.splitlines()
