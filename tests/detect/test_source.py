"""detect._source: what the user's own source says about a finding's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from djperf.detect._source import in_a_loop, in_a_property, used_after
from djperf.findings import Location

SOURCE = """\
def views(queryset):
    first = Book.objects.get(pk=1)
    for book in Book.objects.all():
        author = book.author
    while queryset:
        queryset = queryset[1:]
    checked = [item for item in queryset if Tag.objects.filter(item=item).exists()]
    return first
"""


@pytest.mark.parametrize(
    ("line", "looped"),
    [
        (2, False),  # once per call
        (3, False),  # what the for iterates over runs once
        (4, True),  # the body of the for
        (6, True),  # the body of the while
        (7, True),  # a comprehension's condition runs per item
        (8, False),
    ],
)
def test_a_line_in_a_loop_of_its_function(tmp_path: Path, line: int, looped: bool) -> None:
    path = tmp_path / "views.py"
    path.write_text(SOURCE)
    assert in_a_loop(Location(str(path), line, "views")) is looped


def test_no_answer_without_the_source(tmp_path: Path) -> None:
    assert in_a_loop(Location(str(tmp_path / "gone.py"), 1, "gone")) is None
    assert in_a_loop(Location(str(tmp_path / "gone.html"), 1, "{{ b }}")) is None
    assert in_a_loop(Location("<console>", 1, "<module>")) is None


PAGE = """\
<h1>{{ shelf.name }}</h1>
{% for book in shelf.books.all %}
  <p>{{ book.title }}</p>
  {% for tag in book.tags.all %}{{ tag }}{% endfor %}
{% empty %}
  <p>none</p>
{% endfor %}
<footer>{{ shelf.total }}</footer>
"""


@pytest.mark.parametrize(
    ("line", "tag", "looped"),
    [
        (1, "{{ shelf.name }}", False),
        # The for tag's own iterable is read once, before the loop.
        (2, "{% for book in shelf.books.all %}", False),
        (3, "{{ book.title }}", True),
        (4, "{% for tag in book.tags.all %}", True),
        # {% empty %} runs once, when there is nothing to loop over.
        (6, "<p>none</p>", False),
        (8, "{{ shelf.total }}", False),
    ],
)
def test_a_template_line_in_a_for_loop(tmp_path: Path, line: int, tag: str, looped: bool) -> None:
    template = tmp_path / "page.html"
    template.write_text(PAGE)
    assert in_a_loop(Location(str(template), line, tag)) is looped


CREATES = """\
def add(self):
    note = Note.objects.create(text="x")
    note.save()
    self._add_tags(note)


def alone(self):
    note = Note.objects.create(text="x")
    note.save()
    return None


def unnamed(self):
    Note.objects.create(text="x")
"""


@pytest.mark.parametrize(
    ("line", "after"),
    [(2, "self._add_tags(note)"), (8, None), (14, None), (4, None)],
)
def test_what_the_code_does_next_with_a_created_row(
    tmp_path: Path, line: int, after: str | None
) -> None:
    path = tmp_path / "fake.py"
    path.write_text(CREATES)
    assert used_after(Location(str(path), line, "add")) == after


PROPERTIES = """\
class Issue:
    @property
    def hashes(self):
        return list(self.releases.all())

    @functools.cached_property
    def cached(self):
        return 1

    def method(self):
        return 2
"""


@pytest.mark.parametrize(("line", "expected"), [(4, True), (8, False), (11, False), (1, False)])
def test_a_line_in_a_property(tmp_path: Path, line: int, expected: bool) -> None:
    path = tmp_path / "models.py"
    path.write_text(PROPERTIES)
    assert in_a_property(Location(str(path), line, "hashes")) is expected
