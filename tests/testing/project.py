"""A throwaway Django project for the black-box tests of the pytest plugin and
the manage.py runner: a shop app (authors and books) whose views read the
author the slow way and the fast way, written into a temporary directory.

Its tests live under ``tests/`` (test code to djperf), its views under
``shop/`` (application code).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

SETTINGS = """
SECRET_KEY = "black-box"
INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "shop.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
"""

MODELS = """
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)


class Book(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
"""

VIEWS = """
from shop.models import Book


def titles_slow():
    return [(book.title, book.author.name) for book in Book.objects.all()]  # slow-loop


def titles_fast():
    return [(b.title, b.author.name) for b in Book.objects.select_related("author")]


def titles_joined(read):
    books = list(Book.objects.select_related("author"))  # joined-site
    if read:
        return [book.author.name for book in books]
    return [book.title for book in books]


def titles_never_read():
    return [book.title for book in Book.objects.select_related("author")]  # unused-site
"""

# Outbound calls, caught the way careless code catches them: offline mode
# must fail the test all the same.
CLIENTS = """
import socket
import urllib.request


def fetch_catalogue():
    try:
        url = "http://api.example.com/v1/books"
        return urllib.request.urlopen(url, timeout=0.5).read()  # fetch
    except OSError:
        return None


def read_page(url):
    return urllib.request.urlopen(url).read()  # no timeout


def ping(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.2):  # ping
            return True
    except OSError:
        return False
"""

# Test data: n books, each by an author of its own (test code to djperf).
FACTORIES = """
from shop.models import Author, Book


def make_books(n):
    for i in range(n):
        Book.objects.create(title=f"B{i}", author=Author.objects.create(name=f"A{i}"))
"""


def line_of(marker: str, source: str = VIEWS) -> int:
    """The line of `source` (VIEWS: shop/views.py) holding `marker`."""
    for number, text in enumerate(textwrap.dedent(source).lstrip("\n").splitlines(), start=1):
        if marker in text:
            return number
    raise LookupError(marker)


def write(root: Path, tests: dict[str, str], *, manage: bool = False) -> None:
    """The shop project in `root`, with test modules `tests` (name -> source)."""
    files = {
        "shop_settings.py": SETTINGS,
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/views.py": VIEWS,
        "shop/clients.py": CLIENTS,
        "tests/__init__.py": "",
        "tests/factories.py": FACTORIES,
    }
    if manage:
        files["manage.py"] = MANAGE
    else:
        files["pytest.ini"] = PYTEST_INI
    files.update({f"tests/{name}.py": source for name, source in tests.items()})
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


PYTEST_INI = """
[pytest]
DJANGO_SETTINGS_MODULE = shop_settings
addopts = -p no:cacheprovider -p no:randomly
"""

MANAGE = """
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""
