"""The package as a user gets it: build, install, and run the README's snippets.

    .venv/bin/python scripts/check_package.py [--django 'Django>=5.2,<5.3'] [--keep]

1. Builds a wheel from this checkout (``pip wheel --no-deps``) and checks its
   metadata: the MIT licence and its file, the project URLs, the ``demo``,
   ``records`` and ``celery`` extras and no developer extras.
2. Creates a new virtual environment and installs the wheel there, with
   Django, pytest and pytest-django: nothing from this checkout.
3. Creates a new project (``django-admin startproject mysite``) with a
   ``books`` app whose list page reads each book's author, and applies the
   README's "Use it in your project" section as written: its ``settings.py``
   line, ``books/tests.py``, ``pytest.ini`` and ``books/test_pages.py`` are
   read from README.md, not copied here.
4. Runs both snippets (``manage.py test`` and ``pytest``): they must pass
   while the view uses ``select_related("author")``, and fail, naming the
   template line and the fix, once it does not (so the check can fail);
   then both runners with ``--djperf``, whose summary must name the line,
   the fix and the test.
5. Runs the installed ``djperf`` command: ``--version``, and ``demo`` without
   the demo's extra, which must say what to install rather than fail with a
   traceback.

Exit status 0 when every step holds; the first failure stops it with its
output. Needs the network access pip needs (PyPI) and about a minute.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Use it in your project"

MODELS = """from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
"""

SAMPLE_BOOKS = """from django.db import migrations


def add_books(apps, schema_editor):
    Author = apps.get_model("books", "Author")
    Book = apps.get_model("books", "Book")
    for a in range(4):
        author = Author.objects.create(name=f"Author {a}")
        for b in range(3):
            Book.objects.create(title=f"Book {a}.{b}", author=author)


class Migration(migrations.Migration):
    dependencies = [("books", "0001_initial")]
    operations = [migrations.RunPython(add_books, migrations.RunPython.noop)]
"""

VIEWS = """from django.shortcuts import render

from books.models import Book


def book_list(request):
    books = Book.objects.select_related("author").order_by("title")
    return render(request, "books/book_list.html", {"books": books})
"""

TEMPLATE = """<ul>
{% for book in books %}
  <li>{{ book.title }} by {{ book.author.name }}</li>
{% endfor %}
</ul>
"""


class CheckFailed(Exception):
    pass


def run(*command: str | Path, cwd: Path | None = None, expect: int | None = 0) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False
    )
    output = done.stdout + done.stderr
    if expect is not None and done.returncode != expect:
        raise CheckFailed(
            f"`{' '.join(str(p) for p in command)}` exited {done.returncode}, "
            f"expected {expect}:\n{output}"
        )
    if expect is None and done.returncode == 0:
        raise CheckFailed(f"`{' '.join(str(p) for p in command)}` passed, expected a failure")
    return output


def step(text: str) -> None:
    print(f"== {text}", flush=True)


def readme_snippets() -> dict[str, str]:
    """The code blocks of the README's "Use it in your project" section, by
    the file their first line names ("# books/tests.py" -> its contents)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    snippets = {}
    for block in re.findall(r"```(?:python|ini)\n(.*?)```", section, re.S):
        first, _, body = block.partition("\n")
        snippets[first.lstrip("# ").strip()] = body
    missing = {"settings.py", "books/tests.py", "pytest.ini", "books/test_pages.py"} - set(snippets)
    if missing:
        raise CheckFailed(f"README's {SECTION!r} section lacks the snippets {sorted(missing)}")
    return snippets


def build_wheel(work: Path) -> Path:
    step("build the wheel")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work / "dist", ROOT)
    [wheel] = (work / "dist").glob("djperf-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    checks = {
        "License-Expression: MIT": metadata.get("License-Expression") == "MIT",
        "the LICENSE file": any(n.endswith(".dist-info/licenses/LICENSE") for n in names),
        "py.typed": "djperf/py.typed" in names,
        "no tests or example in the wheel": not any(
            n.startswith(("tests/", "example/")) for n in names
        ),
        "the demo, records and celery extras": sorted(metadata.get_all("Provides-Extra") or [])
        == ["celery", "demo", "records"],
        "project URLs": len(metadata.get_all("Project-URL") or []) >= 3,
    }
    failed = [what for what, ok in checks.items() if not ok]
    if failed:
        raise CheckFailed(f"{wheel.name}: {', '.join(failed)} missing or wrong")
    print(f"   {wheel.name}: {', '.join(checks)}")
    return wheel


def install(work: Path, wheel: Path, django: str) -> Path:
    step(f"install it in a new virtual environment, with {django}, pytest and pytest-django")
    run(sys.executable, "-m", "venv", work / "venv")
    python = work / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "--quiet", wheel, django, "pytest", "pytest-django")
    return python


def new_project(work: Path, python: Path, snippets: dict[str, str]) -> Path:
    step("a new project, with the README's settings line and tests")
    project = work / "project"
    project.mkdir()
    run(python, "-m", "django", "startproject", "mysite", project, cwd=work)
    run(python, "manage.py", "startapp", "books", cwd=project)
    books = project / "books"
    (books / "models.py").write_text(MODELS)
    (books / "views.py").write_text(VIEWS)
    (books / "templates" / "books").mkdir(parents=True)
    (books / "templates" / "books" / "book_list.html").write_text(TEMPLATE)
    urls = project / "mysite" / "urls.py"
    text = urls.read_text().replace(
        "from django.urls import path",
        "from django.urls import path\n\nfrom books.views import book_list",
    )
    urls.write_text(
        text.replace("urlpatterns = [", 'urlpatterns = [\n    path("books/", book_list),')
    )

    settings = project / "mysite" / "settings.py"
    wanted = snippets["settings.py"]
    if '"djperf",' not in wanted or "INSTALLED_APPS" not in wanted:
        raise CheckFailed(f"the README's settings snippet no longer adds djperf: {wanted!r}")
    text = settings.read_text()
    text = text.replace("INSTALLED_APPS = [\n", 'INSTALLED_APPS = [\n    "books",\n    "djperf",\n')
    runner = re.search(r"^TEST_RUNNER = .*$", wanted, re.M)
    if runner is None:
        raise CheckFailed(f"the README's settings snippet no longer sets TEST_RUNNER: {wanted!r}")
    settings.write_text(text + "\n" + runner.group(0) + "\n")

    (books / "tests.py").write_text(snippets["books/tests.py"])
    (books / "test_pages.py").write_text(snippets["books/test_pages.py"])
    (project / "pytest.ini").write_text(snippets["pytest.ini"])
    run(python, "manage.py", "makemigrations", "books", cwd=project)
    (books / "migrations" / "0002_sample_books.py").write_text(SAMPLE_BOOKS)
    return project


def run_snippets(python: Path, project: Path) -> None:
    step("the README's tests pass on a page without N+1 (manage.py test, pytest)")
    run(python, "manage.py", "test", "books", cwd=project)
    run(python, "-m", "pytest", "-q", "books/test_pages.py", cwd=project)

    step("and fail on the same page loading each author one at a time")
    views = project / "books" / "views.py"
    views.write_text(VIEWS.replace('.select_related("author")', ""))
    for command in (
        (python, "manage.py", "test", "books"),
        (python, "-m", "pytest", "-q", "books/test_pages.py"),
    ):
        output = run(*command, cwd=project, expect=None)
        found = re.search(
            r"Expected the same number of queries at every scale.*?"
            r"at books/templates/books/book_list\.html:3 .*?fix: \.select_related\('author'\)",
            output,
            re.S,
        )
        if found is None:
            raise CheckFailed(f"{command[1:]} failed without naming the line and fix:\n{output}")
        print("   " + found.group(0).replace("\n", "\n   "))

    step("the whole suite under --djperf: a summary naming the line, the fix and the test")
    for command in (
        (python, "manage.py", "test", "books", "--djperf"),
        (python, "-m", "pytest", "-q", "books", "--djperf"),
    ):
        output = run(*command, cwd=project, expect=None)
        found = re.search(
            r"n-plus-one  books\.Book\.author .*?"
            r"at       books/templates/books/book_list\.html:3 .*?"
            r"fix      \.select_related\('author'\).*?tests    \d+: \S+",
            output,
            re.S,
        )
        if found is None:
            raise CheckFailed(f"{command[1:]} printed no summary naming the fix:\n{output}")
        print("   " + found.group(0).replace("\n", "\n   "))


def run_command(python: Path) -> None:
    step("the djperf command")
    version = run(python, "-m", "djperf", "--version").strip()
    print(f"   {version}")
    djperf = python.parent / "djperf"
    output = run(djperf, "demo", "--path", ROOT / "example", expect=2)
    if "djperf[demo]" not in output or "Traceback" in output:
        raise CheckFailed(f"`djperf demo` without the demo's extra said:\n{output}")
    print(f"   {output.strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--django", default="Django>=5.2,<5.3", help="the Django to install")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="djperf-package-"))
    try:
        snippets = readme_snippets()
        wheel = build_wheel(work)
        python = install(work, wheel, args.django)
        project = new_project(work, python, snippets)
        run_snippets(python, project)
        run_command(python)
    except CheckFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"   kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("== the package works as the README says")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
