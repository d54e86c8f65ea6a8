"""detect._source: what the user's own source says about a finding's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from djperf.detect._source import in_a_loop
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


def test_no_answer_without_python_source(tmp_path: Path) -> None:
    template = tmp_path / "page.html"
    template.write_text("{% for b in books %}{{ b }}{% endfor %}")
    assert in_a_loop(Location(str(template), 1, "page")) is None
    assert in_a_loop(Location(str(tmp_path / "gone.py"), 1, "gone")) is None
