"""The library the record tests share: richer than tests/conftest.py's (long
summaries, notes with text, the authors returned) and one with portraits.
Named apart from the root `library`, which the other record tests use."""

from __future__ import annotations

import pytest

from tests.testapp.models import Author, Bio, Book, Chapter, Note, Portrait, Publisher, Review, Tag


@pytest.fixture
def rich_library():
    publishers = [Publisher.objects.create(name=f"P{i}") for i in range(2)]
    tags = [Tag.objects.create(name=f"t{i}") for i in range(3)]
    authors = []
    for i in range(3):
        author = Author.objects.create(name=f"A{i}")
        Bio.objects.create(author=author, text=f"bio {i}")
        authors.append(author)
        for j in range(2):
            book = Book.objects.create(
                title=f"B{i}{j}", author=author, publisher=publishers[j], summary="long" * 10
            )
            book.tags.set(tags[:2])
            for k in range(2):
                Chapter.objects.create(book=book, title=f"c{k}")
                Review.objects.create(book=book, rating=k)
            Note.objects.create(content_object=book, text=f"note {i}{j}")
    Author.objects.create(name="no bio, no books")
    return {"authors": authors, "tags": tags, "publishers": publishers}


@pytest.fixture
def library_with_portraits():
    publisher = Publisher.objects.create(name="P")
    tags = [Tag.objects.create(name=f"t{i}") for i in range(2)]
    for i in range(3):
        author = Author.objects.create(name=f"A{i}")
        Portrait.objects.create(author=author, caption=f"portrait {i}")
        for j in range(2):
            book = Book.objects.create(title=f"B{i}{j}", author=author, publisher=publisher)
            book.tags.set(tags)
            Review.objects.create(book=book, rating=j)
            Note.objects.create(content_object=book)
