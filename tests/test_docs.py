"""The docs point only at what the repository has.

Every link of README.md, CHANGELOG.md, DEVELOPERS.md and docs/ to a file of
this repository must resolve: relative links from the page's directory, and
links to https://github.com/djperf/djperf/blob|tree/main/<path> against the
checkout. The README is the package's description on PyPI, where relative
links lead nowhere: its links are absolute.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "https://github.com/djperf/djperf/"
PAGES = sorted(
    [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "DEVELOPERS.md", *ROOT.glob("docs/**/*.md")]
)
# What the repository has: the files git tracks (not what a local run left
# behind, such as the demo's SQLite file), and their directories.
TRACKED = set(
    subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
)
DIRECTORIES = {str(Path(path).parent) for path in TRACKED} | {
    str(parent) for path in TRACKED for parent in Path(path).parents
}
# Files a documented command creates, named by the docs.
GENERATED = {"example/djperf_shop.sqlite3"}


def in_repository(path: Path) -> bool:
    try:
        relative = str(path.resolve().relative_to(ROOT))
    except ValueError:
        return False
    return relative in TRACKED or relative in DIRECTORIES or relative in GENERATED


# [text](target) outside code spans; the target up to a space or ")".
_LINK = re.compile(r"(?<!`)\[[^\]]*\]\(([^)\s]+)\)")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def _links(page: Path) -> list[str]:
    return _LINK.findall(_CODE.sub("", page.read_text()))


def _target(page: Path, link: str) -> Path | None:
    """The file of this repository `link` names, or None for another site."""
    link = link.split("#", 1)[0]
    if link.startswith(REPOSITORY):
        rest = link[len(REPOSITORY) :]
        match = re.match(r"(?:blob|tree)/main/(.*)", rest)
        return ROOT / match.group(1) if match else None
    if re.match(r"[a-z]+:", link) or not link:
        return None
    return (page.parent / link).resolve()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(page):
    broken = [link for link in _links(page) if (t := _target(page, link)) and not in_repository(t)]
    assert broken == [], f"{page.relative_to(ROOT)} links to missing files: {broken}"


# Paths a page names in its text ("example/shopsite/databases.py",
# "hooks/columns.py", "DESIGN.md"), looked up from the page's directory and
# from the usual roots; a bare file name anywhere in the repository.
_PATH = re.compile(
    r"(?<![\w/.:*-])((?:[\w.-]+/)*[\w-][\w.-]*\.(?:py|md|toml|html|ini|txt|sqlite3))\b"
)
_ROOTS = [
    ROOT,
    ROOT / "src",
    ROOT / "src" / "djperf",
    ROOT / "src" / "djperf" / "record",
    ROOT / "example",
]
# Files of the user's project that examples name, not files of this repository.
USER_FILES = {
    "books/tests.py",
    "books/test_pages.py",
    "books/templates/books/book_list.html",
    "pytest.ini",
    "settings.py",
    "shop/views.py",
    "shop/queries.py",
    "views.py",
    # A default test path pattern (docs/settings.md), not a file.
    "tests.py",
    # Files of the projects docs/precision.md runs, not of this repository.
    "requirements.txt",
    "requirements/tests.txt",
    "tests/settings.py",
    "babybuddy/apps.py",
    "core/apps.py",
    "core/timeline.py",
    "fake.py",
    "abstract_models.py",
    "release_notes.py",
    "urls/docs.py",
    # docs/testing.md: a user's runner module, and the throwaway project's
    # tests (tests/testing/project.py writes them) whose output it shows.
    "myproject/testing.py",
    "test_unused.py",
    "tests/test_shop.py",
    "shop/clients.py",
    "reports/views.py",
    # The rule docs/architecture.md adds as an example of adding a rule.
    "src/djperf/detect/rules/len_of_queryset.py",
    "tests/detect/rules/test_len_of_queryset.py",
    "docs/rules/len-of-queryset.md",
}
_NAMES = {Path(path).name for path in TRACKED}


def _named_paths(page: Path) -> list[str]:
    text = re.sub(r"https?://\S+", "", page.read_text())
    # docs/precision.md's review tables list the files of the projects it
    # runs, inside <details> blocks: not files of this repository.
    text = re.sub(r"<details>.*?</details>", "", text, flags=re.S)
    return [match.group(1) for match in _PATH.finditer(text)]


def _exists(page: Path, name: str) -> bool:
    if name in USER_FILES:
        return True
    if "/" not in name and name in _NAMES:
        return True
    return any(in_repository(base / name) for base in (page.parent, *_ROOTS))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_named_in_the_text_exist(page):
    missing = sorted({name for name in _named_paths(page) if not _exists(page, name)})
    assert missing == [], f"{page.relative_to(ROOT)} names files the repository lacks: {missing}"


def test_readme_links_work_outside_the_repository():
    relative = [
        link
        for link in _links(ROOT / "README.md")
        if not re.match(r"[a-z]+:", link) and not link.startswith("#")
    ]
    assert relative == []


def test_the_checker_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](page.md) [gone](missing.md) `[code](not-a-link.md)` "
        f"[remote]({REPOSITORY}blob/main/no-such-file.md)"
    )
    targets = [_target(page, link) for link in _links(page)]
    assert [t.exists() for t in targets if t is not None] == [True, False, False]
    assert in_repository(ROOT / "README.md") and in_repository(ROOT / "docs")
    assert not in_repository(ROOT / ".venv" / "pyvenv.cfg")
    page.write_text("See DESIGN.md and `src/djperf/findings.py`, not src/djperf/gone.py.")
    assert [name for name in _named_paths(page) if not _exists(page, name)] == [
        "DESIGN.md",
        "src/djperf/gone.py",
    ]
