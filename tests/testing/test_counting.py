"""assert_num_queries / assert_max_queries: one counting rule, readable failures."""

from __future__ import annotations

import pytest
from django.db import transaction

from djperf.testing import assert_max_queries, assert_num_queries
from djperf.testing.counting import short_sql
from tests.helpers import line
from tests.testapp.models import Author, Book

pytestmark = pytest.mark.django_db(databases=["default", "other"])


def test_num_passes_on_the_exact_count(library):
    with assert_num_queries(2) as counted:
        list(Book.objects.all())
        list(Author.objects.all())
    assert len(counted.queries) == 2


def test_num_fails_on_fewer_and_on_more(library):
    with (
        pytest.raises(AssertionError, match=r"^Expected 3 queries, 2 were run"),
        assert_num_queries(3),
    ):
        list(Book.objects.all())
        list(Author.objects.all())
    with (
        pytest.raises(AssertionError, match=r"^Expected 1 query, 2 were run"),
        assert_num_queries(1),
    ):
        list(Book.objects.all())
        list(Author.objects.all())


def test_max_passes_below_and_fails_above(library):
    with assert_max_queries(5):
        list(Book.objects.all())
    with (
        pytest.raises(AssertionError, match=r"^Expected at most 0 queries, 1 was run"),
        assert_max_queries(0),
    ):
        list(Book.objects.all())


def test_every_alias_counts_unless_using_names_some(library):
    with assert_num_queries(2):
        list(Book.objects.all())
        list(Author.objects.using("other").all())
    with assert_num_queries(1, using="other"):
        list(Book.objects.all())
        list(Author.objects.using("other").all())
    with assert_num_queries(2, using=["default", "other"]):
        list(Book.objects.all())
        list(Author.objects.using("other").all())


def test_transaction_statements_count_only_when_asked(library):
    # Inside the test's transaction, atomic() sends SAVEPOINT and RELEASE SAVEPOINT.
    with assert_num_queries(1), transaction.atomic():
        list(Book.objects.all())
    with assert_num_queries(3, transactions=True), transaction.atomic():
        list(Book.objects.all())


def test_the_failure_lists_statements_lines_and_findings(library):
    with pytest.raises(AssertionError) as failure, assert_num_queries(1):
        [book.author.name for book in Book.objects.all()]  # the-loop
    lines = str(failure.value).splitlines()
    here = line(__file__, "the-loop")
    assert lines[0] == "Expected 1 query, 7 were run (all databases; transaction statements not"
    assert lines[1] == "  counted):"
    assert lines[2] == "    6x  SELECT ... FROM testapp_author WHERE testapp_author.id = # LIMIT #"
    assert lines[3].startswith(f"          {here} ")
    assert lines[3].endswith(" (x6)")
    assert lines[4].startswith("    1x  SELECT ")
    assert "djperf found 1 problem in the block:" in lines
    assert "  fix      .select_related('author')" in lines


def test_the_block_own_error_wins(library):
    with pytest.raises(ZeroDivisionError), assert_num_queries(0):
        list(Book.objects.all())
        1 / 0  # noqa: B018


@pytest.mark.parametrize("expected", [-1, 1.5, True, "2"])
def test_a_wrong_expected_count_is_refused(expected):
    with pytest.raises(ValueError, match="must be 0 or more"):
        assert_num_queries(expected)


@pytest.mark.parametrize(
    ("fingerprint", "short"),
    [
        ('SELECT "a"."id" FROM "a"', 'SELECT "a"."id" FROM "a"'),
        (
            "SELECT " + ", ".join(f"t.column_{i}" for i in range(20)) + " FROM t WHERE t.id = #",
            "SELECT ... FROM t WHERE t.id = #",
        ),
        (
            "UPDATE t SET " + "x = #, " * 30 + "y = #",
            "UPDATE t SET x = #, x = #, x = #, x = #, x = #, x = #, x ...",
        ),
    ],
)
def test_short_sql(fingerprint, short):
    assert short_sql(fingerprint, width=60) == short
    assert len(short_sql(fingerprint, width=60)) <= 60
