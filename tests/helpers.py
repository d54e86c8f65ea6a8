"""Helpers for tests that assert findings: pick a rule's, name a line, reach a page."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from django.db.models.query_utils import DeferredAttribute

ROOT = Path(__file__).resolve().parents[1]


def of(rec, rule):
    """The findings of one rule."""
    return [finding for finding in rec.findings if finding.rule == rule]


def line(path: str, marker: str) -> str:
    """'tests/<...>/<file>:<n>' for the line of `path` ending with `# <marker>`:
    how djperf shows that line (relative to the project root)."""
    shown = Path(path).resolve().relative_to(ROOT)
    with open(path) as source:
        for number, text in enumerate(source, start=1):
            if text.rstrip().endswith(f"# {marker}"):
                return f"{shown}:{number}"
    raise AssertionError(f"no line ends with # {marker}")


# A wide column's value: 25 rows of it (the shelf fixture) are 75 kB, over
# unused-column's 32 kB default.
LONG = "x" * 3000


def watched() -> bool:
    """Whether unused-column's read watching is on for Book.summary."""
    from tests.testapp.models import Book

    return type(Book.__dict__["summary"]) is not DeferredAttribute


def site(upstream, number):
    """A page of the rivers stand-in (the upstream fixture)."""
    return f"{upstream}/nwis/iv/?format=json&sites={number}"


ADMIN = "tests/testapp/admin_site.py"


def class_line(name: str, path: str = ADMIN) -> str:
    """'tests/testapp/admin_site.py:<n>' (or `path`'s) for the line that
    defines class `name`."""
    with open(ROOT / path) as source:
        for number, text in enumerate(source, start=1):
            if text.startswith(f"class {name}("):
                return f"{path}:{number}"
    raise AssertionError(name)


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response


@contextmanager
def third_party_package(settings, directory: Path, name: str, source: str) -> Iterator[ModuleType]:
    """A package `name` whose __init__ is `source`, importable inside the block
    and counted as third-party code (DJPERF["LIBRARY_PATHS"]): a stand-in for
    sorl-thumbnail, django-taggit and the like."""
    package = directory / name
    package.mkdir()
    (package / "__init__.py").write_text(source)
    settings.DJPERF = {**settings.DJPERF, "LIBRARY_PATHS": [str(directory)]}
    sys.path.insert(0, str(directory))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop(name, None)
