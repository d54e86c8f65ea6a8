"""Backend selection for the suite: one pytest session per database.

`DJPERF_TEST_DB` is sqlite (default), postgres or mysql. When the server for
the chosen backend is not reachable, every test is skipped with a one-line
reason; under CI=true that is a failure instead, so a stopped server can never
pass CI by skipping.
"""

from __future__ import annotations

import os
import socket

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from rivers.standin import running_upstream
from shopsite.databases import server_address
from tests.helpers import LONG
from tests.testapp.models import Author, Bio, Book, Chapter, Note, Publisher, Review, Tag

# The plugin's black-box tests (tests/testing/test_pytest_plugin.py).
pytest_plugins = ["pytester"]

BACKEND = os.environ.get("DJPERF_TEST_DB", "sqlite")
IN_CI = os.environ.get("CI", "").lower() == "true"
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mysql": "MariaDB/MySQL"}


def _server_problem(backend: str) -> str | None:
    if backend == "sqlite":
        return None
    host, port = server_address(backend)
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as error:
        return (
            f"{NAMES[backend]} is not reachable at {host}:{port} ({error.strerror or error}); "
            "start it (DEVELOPERS.md) or run with DJPERF_TEST_DB=sqlite"
        )


def pytest_configure(config: pytest.Config) -> None:
    if BACKEND not in NAMES:
        raise pytest.UsageError(f"DJPERF_TEST_DB={BACKEND!r}: choose one of {', '.join(NAMES)}")
    problem = _server_problem(BACKEND)
    if problem and IN_CI:
        raise pytest.UsageError(f"{problem} [CI=true: a missing server is a failure]")
    config.stash[_PROBLEM] = problem


_PROBLEM = pytest.StashKey[str | None]()


def pytest_report_header(config: pytest.Config) -> str:
    import django

    return f"djperf: database {NAMES[BACKEND]}, Django {django.get_version()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = config.stash[_PROBLEM]
    if problem:
        skip = pytest.mark.skip(reason=problem)
        for item in items:
            item.add_marker(skip)


# -- data and servers for the tests that assert findings --------------------------


@pytest.fixture
def library(db):
    """3 authors with bios, 6 books (2 publishers, 2 tags each), 12 chapters,
    12 reviews, 6 notes; and one author with nothing."""
    publishers = [Publisher.objects.create(name=f"P{i}") for i in range(2)]
    tags = [Tag.objects.create(name=f"t{i}") for i in range(3)]
    for i in range(3):
        author = Author.objects.create(name=f"A{i}")
        Bio.objects.create(author=author, text=f"bio {i}")
        for j in range(2):
            book = Book.objects.create(
                title=f"B{i}{j}", author=author, publisher=publishers[j], summary="s" * 50
            )
            book.tags.set(tags[:2])
            for k in range(2):
                Chapter.objects.create(book=book, title=f"c{k}")
                Review.objects.create(book=book, rating=k)
            Note.objects.create(content_object=book, text=f"note {i}{j}")
    Author.objects.create(name="nobody")


@pytest.fixture
def redis_client(settings):
    """A client of the real Redis at settings.REDIS_URL; the test's keys are removed."""
    import os

    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (RedisError, OSError) as error:
        client.close()
        reason = f"no Redis at {settings.REDIS_URL} ({error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} [CI=true: a missing server is a failure]")
        pytest.skip(reason)
    yield client
    for key in client.scan_iter("djperf-test:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def shelf(db):
    """25 books with a 3000-character summary (LONG), by one author: a wide column."""
    author = Author.objects.create(name="A")
    Book.objects.bulk_create(Book(title=f"B{i:02}", author=author, summary=LONG) for i in range(25))


@pytest.fixture(scope="module")
def upstream():
    """The demo's stand-in for the rivers API, on the loopback, answering after 30 ms."""
    with running_upstream(latency=0.03) as base:
        yield base


@pytest.fixture
def fakelib(settings):
    """tests/fakelib is a third-party package for this test (LIBRARY_PATHS)."""
    settings.DJPERF = {
        **settings.DJPERF,
        "LIBRARY_PATHS": [os.path.abspath(os.path.join(os.path.dirname(__file__), "fakelib"))],
    }


@pytest.fixture
def empty_cache():
    """Django's default cache, emptied around the test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff(client, settings, library):
    """A client logged in to the test app's admin sites (tests/testapp/urls.py)."""
    settings.ROOT_URLCONF = "tests.testapp.urls"
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    return client
