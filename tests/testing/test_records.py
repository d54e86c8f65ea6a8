"""Performance records: operations in order, the modes, the diff, pruning."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from djperf.testing import RecordError, Target, record
from djperf.testing.records import check, files_under, operations, prune, read, write
from tests.helpers import line
from tests.testapp.models import Author, Book

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(tmp_path):
    return Target(tmp_path / "test_shop.perf.yml", "test_list")


def list_books():
    cache.get("books:page:1")
    return [book.title for book in Book.objects.all()]


def test_the_first_run_writes_the_record(target, library):
    with record(target, mode="once"):
        list_books()
    assert read(target.path) == {
        "test_list": [
            "cache: default get books:#:#",
            "db: SELECT testapp_book.id, testapp_book.title, testapp_book.author_id, "
            "testapp_book.publisher_id, testapp_book.summary FROM testapp_book",
        ]
    }


def test_the_same_operations_pass_and_others_fail_naming_the_new_line(target, library):
    with record(target, mode="once"):
        list_books()
    with record(target, mode="once"):
        list_books()
    with pytest.raises(RecordError) as mismatch, record(target, mode="once"):
        list_books()
        Author.objects.filter(name="A0").exists()  # new-query
    text = str(mismatch.value).splitlines()
    assert text[0].startswith("djperf: the block's operations differ from its performance")
    assert "  + db: SELECT # AS a FROM testapp_author WHERE testapp_author.name = # LIMIT #" in text
    assert any(t.startswith(f"      from {line(__file__, 'new-query')}  ") for t in text)
    assert text[-2].startswith("Change the code back, or accept the new record:")


def test_a_removed_operation_shows_as_recorded(target, library):
    with record(target, mode="once"):
        list_books()
    with pytest.raises(RecordError) as mismatch, record(target, mode="once"):
        list(Book.objects.all())
    assert "  - cache: default get books:#:#" in str(mismatch.value).splitlines()


def test_mode_none_writes_nothing_and_a_missing_record_fails(target, library):
    with (
        pytest.raises(RecordError, match=r"no performance record for .*test_list"),
        record(target, mode="none"),
    ):
        list_books()
    assert not target.path.exists()


def test_once_adds_a_missing_record_to_an_existing_file(target, library):
    write(target.path, {"test_other": ["db: SELECT 1"]})
    with record(target, mode="once"):
        list_books()
    assert set(read(target.path)) == {"test_other", "test_list"}


def test_all_writes_the_changed_record_and_still_fails(target, library):
    write(target.path, {"test_list": ["db: SELECT 1"]})
    with pytest.raises(RecordError, match="The new record is written"), record(target, mode="all"):
        list(Book.objects.all())
    assert read(target.path)["test_list"][0].startswith("db: SELECT testapp_book.id")
    with record(target, mode="all"):
        list(Book.objects.all())


def test_overwrite_replaces_the_record(target, library):
    write(target.path, {"test_list": ["db: SELECT 1"]})
    with record(target, mode="overwrite"):
        list(Book.objects.all())
    assert read(target.path)["test_list"][0].startswith("db: SELECT testapp_book.id")


@pytest.mark.django_db(databases=["default", "other"])
def test_transaction_statements_and_other_aliases(target, library):
    from django.db import transaction

    with record(target, mode="once") as block, transaction.atomic():
        Author.objects.using("other").exists()
    names = operations(block._capture.recording).names
    assert names == ["db[other]: SELECT # AS a FROM testapp_author LIMIT #"]


def test_record_needs_its_test(library):
    from djperf.testing.records import test_started

    test_started(None)
    with pytest.raises(RecordError, match="does not know the test it is in"), record():
        pass


def test_prune_removes_the_records_of_tests_whose_code_is_gone(tmp_path):
    (tmp_path / "test_shop.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.parametrize('n', [1, 2])\n"
        "def test_a(n): pass\n\n"
        "class ShopTests:\n    def test_b(self): pass\n\n"
        "class Inherits(Base):\n    pass\n"
    )
    path = tmp_path / "test_shop.perf.yml"
    write(
        path,
        {
            "test_a[1]": ["db: x"],
            "test_a[3]": ["db: x"],  # a parametrize id is not checked: kept
            "test_a.2": ["db: y"],
            "ShopTests::test_b": ["db: z"],
            "ShopTests.test_b": ["db: z"],
            "ShopTests.test_c": ["db: z"],
            "Inherits.test_b": ["db: z"],  # may come from Base: kept
            "test_gone": ["db: z"],
            "Gone.test_b": ["db: z"],
        },
    )
    removed = prune(files_under([tmp_path]))
    assert removed == [(path, "Gone.test_b"), (path, "ShopTests.test_c"), (path, "test_gone")]
    assert len(read(path)) == 6
    (tmp_path / "test_shop.py").unlink()
    assert len(prune([path])) == 6
    assert not path.exists()


def test_check_compares_without_a_capture(target):
    from djperf.testing.records import Operations

    found = Operations()
    found.add("http: GET api.example.com/v1/items/#", None)
    check(target, found, "once")
    check(target, found, "none")
    assert read(target.path) == {"test_list": ["http: GET api.example.com/v1/items/#"]}


def test_blocks_in_copied_contexts_are_numbered_per_test(tmp_path):
    import asyncio

    from djperf.testing.records import test_started

    target = Target(tmp_path / "test_async.perf.yml", "test_x")
    test_started(lambda: target)

    async def block(key):
        with record(mode="once"):
            cache.get(key)

    asyncio.run(block("a:1"))
    asyncio.run(block("b:1"))
    assert read(target.path) == {
        "test_x": ["cache: default get a:#"],
        "test_x.2": ["cache: default get b:#"],
    }
    test_started(None)
