from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from djperf.record import sql
from djperf.record.sql import fingerprint
from tests.testapp.models import Author, Book, Tag

# -- literals and placeholders ------------------------------------------------


def test_format_placeholder():
    assert fingerprint("SELECT a FROM t WHERE id = %s") == "SELECT a FROM t WHERE id = #"


def test_named_format_placeholder():
    assert fingerprint("SELECT a FROM t WHERE id = %(id)s") == "SELECT a FROM t WHERE id = #"


def test_qmark_placeholders():
    assert fingerprint("SELECT a FROM t WHERE id = ? AND b = ?3") == (
        "SELECT a FROM t WHERE id = # AND b = #"
    )


def test_numeric_dollar_placeholder():
    assert fingerprint("SELECT a FROM t WHERE id = $1") == "SELECT a FROM t WHERE id = #"


def test_named_colon_placeholder():
    assert fingerprint("SELECT a FROM t WHERE id = :ident") == "SELECT a FROM t WHERE id = #"


def test_postgres_cast_is_not_a_placeholder():
    assert fingerprint("SELECT %s::jsonb, x::text FROM t") == "SELECT #::jsonb, x::text FROM t"


def test_integer_literal():
    assert fingerprint("SELECT a FROM t WHERE id = 42") == "SELECT a FROM t WHERE id = #"


def test_decimal_and_exponent_literals():
    assert fingerprint("SELECT 1.5, 2e10, .5 FROM t") == "SELECT #, #, # FROM t"


def test_hex_literal():
    assert fingerprint("SELECT 0x1F FROM t") == "SELECT # FROM t"


def test_negative_number_keeps_its_sign():
    assert fingerprint("SELECT a FROM t WHERE id = -3") == "SELECT a FROM t WHERE id = -#"


def test_digits_inside_identifiers_stay():
    assert fingerprint("SELECT t1.c2 FROM t1") == "SELECT t1.c2 FROM t1"


def test_string_literal():
    assert fingerprint("SELECT a FROM t WHERE b = 'x'") == "SELECT a FROM t WHERE b = #"


def test_string_literal_with_doubled_quote():
    assert fingerprint("SELECT a FROM t WHERE b = 'it''s'") == "SELECT a FROM t WHERE b = #"


def test_mysql_string_literal_with_backslash_escape():
    assert fingerprint(r"SELECT a FROM t WHERE b = 'it\'s' AND c = 1", backslash_escapes=True) == (
        "SELECT a FROM t WHERE b = # AND c = #"
    )


def test_standard_string_literal_ending_in_a_backslash():
    # In standard SQL 'C:\' is a whole string; the value must not leak.
    assert fingerprint(r"SELECT a FROM t WHERE b = 'C:\' AND c = 'x'") == (
        "SELECT a FROM t WHERE b = # AND c = #"
    )


def test_prefixed_string_literals():
    assert fingerprint("SELECT E'a', N'b', X'0F' FROM t") == "SELECT #, #, # FROM t"


def test_dollar_quoted_strings():
    assert fingerprint("SELECT $$ a $$, $tag$ b $tag$") == "SELECT #, #"


def test_literal_inside_string_is_not_an_identifier():
    assert fingerprint("""SELECT a FROM t WHERE b = 'say "hi"'""") == (
        "SELECT a FROM t WHERE b = #"
    )


# -- IN lists and VALUES ----------------------------------------------------


def test_in_list_collapses():
    assert fingerprint("SELECT a FROM t WHERE id IN (%s, %s, %s)") == (
        "SELECT a FROM t WHERE id IN (...)"
    )


def test_in_lists_of_any_length_share_a_fingerprint():
    one = fingerprint("SELECT a FROM t WHERE id IN (%s)")
    many = fingerprint("SELECT a FROM t WHERE id IN (" + ", ".join(["%s"] * 500) + ")")
    assert one == many


def test_in_list_of_literals_collapses():
    assert fingerprint("SELECT a FROM t WHERE id IN (1,2, 3)") == (
        "SELECT a FROM t WHERE id IN (...)"
    )


def test_not_in_list_collapses():
    assert fingerprint("SELECT a FROM t WHERE id NOT IN (%s, %s)") == (
        "SELECT a FROM t WHERE id NOT IN (...)"
    )


def test_row_value_in_list_collapses():
    assert fingerprint("SELECT a FROM t WHERE (a, b) IN ((%s, %s), (%s, %s))") == (
        "SELECT a FROM t WHERE (a, b) IN (...)"
    )


def test_in_subquery_stays():
    assert fingerprint("SELECT a FROM t WHERE id IN (SELECT id FROM u WHERE z = %s)") == (
        "SELECT a FROM t WHERE id IN (SELECT id FROM u WHERE z = #)"
    )


def test_lowercase_in_list_collapses():
    assert fingerprint("select a from t where id in (1, 2)") == "select a from t where id IN (...)"


def test_equals_and_in_stay_different():
    assert fingerprint("SELECT a FROM t WHERE id = %s") != fingerprint(
        "SELECT a FROM t WHERE id IN (%s)"
    )


def test_is_null_and_equals_stay_different():
    assert fingerprint("SELECT a FROM t WHERE b IS NULL") != fingerprint(
        "SELECT a FROM t WHERE b = %s"
    )


def test_function_named_like_in_is_left_alone():
    assert fingerprint("SELECT MIN(%s) FROM t") == "SELECT MIN(#) FROM t"


def test_multi_row_values_keep_one_row():
    assert fingerprint("INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s), (%s, %s)") == (
        "INSERT INTO t (a, b) VALUES (#, #)"
    )


def test_multi_row_values_with_calls_keep_one_row():
    assert fingerprint("INSERT INTO t (a, b) VALUES (%s, NOW()), (%s, NOW())") == (
        "INSERT INTO t (a, b) VALUES (#, NOW())"
    )


def test_in_list_with_postgres_casts_collapses():
    assert fingerprint("SELECT a FROM t WHERE id IN (%s::integer, %s::integer)") == (
        "SELECT a FROM t WHERE id IN (...)"
    )


def test_single_row_values_unchanged():
    assert fingerprint("INSERT INTO t (a) VALUES (%s)") == "INSERT INTO t (a) VALUES (#)"


# -- names, quoting, comments, whitespace -----------------------------------


def test_double_quoted_identifiers_lose_quotes():
    assert fingerprint('SELECT "t"."id" FROM "t"') == "SELECT t.id FROM t"


def test_backquoted_identifiers_lose_quotes():
    assert fingerprint("SELECT `t`.`id` FROM `t`") == "SELECT t.id FROM t"


def test_vendor_quoting_gives_one_fingerprint():
    assert fingerprint('SELECT "t"."id" FROM "t" WHERE "t"."a" = %s') == fingerprint(
        "SELECT `t`.`id` FROM `t` WHERE `t`.`a` = %s"
    )


def test_escaped_quote_inside_identifier():
    assert fingerprint('SELECT "we""ird" FROM t') == 'SELECT we"ird FROM t'


def test_savepoint_name():
    assert fingerprint('SAVEPOINT "s140234_x1"') == "SAVEPOINT #"


def test_release_savepoint_name():
    assert fingerprint("RELEASE SAVEPOINT `s1_x2`") == "RELEASE SAVEPOINT #"


def test_rollback_to_savepoint_name():
    assert fingerprint('ROLLBACK TO SAVEPOINT "s9_x77"') == "ROLLBACK TO SAVEPOINT #"


def test_savepoints_share_a_fingerprint():
    assert fingerprint('SAVEPOINT "s1_x1"') == fingerprint('SAVEPOINT "s99_x3"')


def test_server_side_cursor_name():
    assert (
        fingerprint('DECLARE "_django_curs_140234_sync_1" NO SCROLL CURSOR WITH HOLD FOR SELECT 1')
        == "DECLARE # NO SCROLL CURSOR WITH HOLD FOR SELECT #"
    )


def test_cursor_names_share_a_fingerprint():
    assert fingerprint('FETCH 100 FROM "_django_curs_1_sync_1"') == fingerprint(
        'FETCH 100 FROM "_django_curs_7_async_12"'
    )


def test_block_comment_removed():
    assert fingerprint("/* controller=x */ SELECT a FROM t") == "SELECT a FROM t"


def test_line_comment_removed():
    assert fingerprint("SELECT a FROM t -- why\nWHERE b = 1") == "SELECT a FROM t WHERE b = #"


def test_whitespace_collapsed():
    assert fingerprint("SELECT  a,\n\t b\nFROM   t") == "SELECT a, b FROM t"


def test_space_inside_parentheses_collapsed():
    assert fingerprint("SELECT COUNT( * ) FROM t") == "SELECT COUNT(*) FROM t"


def test_keywords_keep_their_case():
    assert fingerprint("select a from t") == "select a from t"


def test_empty_statement():
    assert fingerprint("") == ""


# -- the cache ------------------------------------------------------------------


def test_cached_result_is_identical():
    text = "SELECT a FROM t WHERE id = %s -- cache test"
    assert fingerprint(text) is fingerprint(text)


def test_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(sql, "_CACHE_SIZE", 10)
    sql._caches[False].clear()
    for i in range(25):
        fingerprint(f"SELECT a{i} FROM t")
    assert len(sql._caches[False]) <= 10


def test_cache_is_bounded_by_characters(monkeypatch):
    monkeypatch.setattr(sql, "_CACHE_CHARS", 5000)
    monkeypatch.setattr(sql, "_cached_chars", 0)
    sql._caches[False].clear()
    for size in range(1, 200):
        fingerprint("SELECT a FROM t WHERE id IN (" + ", ".join(["%s"] * size) + ")")
    assert sum(len(k) for k in sql._caches[False]) <= 5000 + 4096


def test_long_statements_are_not_cached():
    text = "SELECT a FROM t WHERE id IN (" + ", ".join(["%s"] * 3000) + ")"
    assert fingerprint(text) == "SELECT a FROM t WHERE id IN (...)"
    assert text not in sql._caches[False]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "opener",
    ["/*", "'", "$$", "'/*", "E'", "$tag$"],
    ids=["comment", "string", "dollar", "mixed", "prefixed", "tagged"],
)
def test_unterminated_literals_stay_linear(opener):
    # 40,000 openers that never close: each must swallow the rest once, not
    # rescan it from every later opener.
    fingerprint(f"SELECT a FROM t WHERE b = {opener * 40_000}")


def test_unterminated_string_runs_to_the_end():
    assert fingerprint("SELECT a FROM t WHERE b = 'oops") == "SELECT a FROM t WHERE b = #"


# -- real SQL from the backend under test -------------------------------------


def fp(text: str) -> str:
    # CaptureQueriesContext shows the statement as the driver ran it, values
    # interpolated: MySQL's strings escape with a backslash.
    return fingerprint(text, backslash_escapes=connection.vendor == "mysql")


def _captured(action) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        action()
    return [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def books(db):
    author = Author.objects.create(name="A")
    return [Book.objects.create(title=f"B{i}", author=author) for i in range(60)]


def _sql_of(queryset) -> str:
    [sql_text] = _captured(lambda: list(queryset))
    return sql_text


@pytest.mark.django_db
def test_backend_pk_lookups_share_a_fp(books):
    first = fp(_sql_of(Book.objects.filter(pk=books[0].pk)))
    second = fp(_sql_of(Book.objects.filter(pk=books[1].pk)))
    assert first == second


@pytest.mark.django_db
def test_backend_in_lists_of_different_lengths_share_a_fp(books):
    short = fp(_sql_of(Book.objects.filter(pk__in=[b.pk for b in books[:2]])))
    long = fp(_sql_of(Book.objects.filter(pk__in=[b.pk for b in books])))
    assert short == long
    assert "IN (...)" in short


@pytest.mark.django_db
def test_backend_equals_differs_from_in(books):
    equals = fp(_sql_of(Book.objects.filter(pk=books[0].pk)))
    in_list = fp(_sql_of(Book.objects.filter(pk__in=[books[0].pk, books[1].pk])))
    assert equals != in_list


@pytest.mark.django_db
def test_backend_quoting_is_removed(books):
    text = fp(_sql_of(Book.objects.filter(pk=books[0].pk)))
    assert '"' not in text and "`" not in text
    assert "testapp_book.title" in text


@pytest.mark.django_db
def test_backend_limit_is_a_value(books):
    short = fp(_sql_of(Book.objects.all()[:2]))
    long = fp(_sql_of(Book.objects.all()[:20]))
    assert short == long


@pytest.mark.django_db
def test_backend_savepoints_share_a_fp(books):
    def nested():
        with transaction.atomic():
            Tag.objects.create(name="x")
        with transaction.atomic():
            Tag.objects.create(name="y")

    statements = [fp(s) for s in _captured(nested)]
    savepoints = [s for s in statements if s.startswith("SAVEPOINT")]
    assert savepoints == ["SAVEPOINT #", "SAVEPOINT #"]
    assert "RELEASE SAVEPOINT #" in statements


@pytest.mark.django_db
def test_backend_bulk_inserts_of_different_sizes_share_a_fp(db):
    small = _captured(lambda: Tag.objects.bulk_create([Tag(name="a"), Tag(name="b")]))
    large = _captured(lambda: Tag.objects.bulk_create([Tag(name=str(i)) for i in range(30)]))
    assert fp(small[-1]) == fp(large[-1])
    assert fp(small[-1]).startswith("INSERT INTO testapp_tag")


@pytest.mark.django_db
def test_backend_string_filter_value(books):
    # Values are parameters on every backend: nothing of the value shows.
    text = fp(_sql_of(Book.objects.filter(title="it's B1")))
    assert "B1" not in text and "#" in text


def test_sqlite_like_escape_clause():
    assert fp("SELECT a FROM t WHERE b LIKE %s ESCAPE '\\' AND c = %s") == (
        "SELECT a FROM t WHERE b LIKE # ESCAPE # AND c = #"
    )


@pytest.mark.django_db
def test_backend_icontains(books):
    # SQLite writes ESCAPE '\' into the statement; no backend leaks the value.
    text = fp(_sql_of(Book.objects.filter(title__icontains="needle")))
    assert "needle" not in text and "\\" not in text and "'" not in text
    assert " LIKE " in text
