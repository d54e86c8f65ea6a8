"""Data and helpers for the rule tests (every rule: must-flag and must-not-flag cases)."""

from __future__ import annotations

import pytest

from tests.testapp.models import Author, Bio, Book, Chapter, Note, Publisher, Review, Tag


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


def of(rec, rule):
    """The findings of one rule."""
    return [finding for finding in rec.findings if finding.rule == rule]


def line(path: str, marker: str) -> str:
    """'tests/detect/<file>:<n>' for the line of `path` ending with `# <marker>`."""
    with open(path) as source:
        for number, text in enumerate(source, start=1):
            if text.rstrip().endswith(f"# {marker}"):
                return f"tests/detect/{path.rsplit('/', 1)[-1]}:{number}"
    raise AssertionError(f"no line ends with # {marker}")


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
