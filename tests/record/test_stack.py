from __future__ import annotations

import os
import sys
import sysconfig

import django
import pytest

import djperf
from djperf.record import stack
from djperf.record.events import Location


@pytest.fixture(autouse=True)
def _fresh_verdicts():
    stack.reset()
    yield
    stack.reset()


def test_user_file_is_shown_relative_to_the_root():
    here = stack.user_location()
    assert here == Location(
        "tests/record/test_stack.py", here.line, "test_user_file_is_shown_relative_to_the_root"
    )


def test_django_is_not_user_code():
    assert not stack.is_user_file(django.__file__)


def test_djperf_is_not_user_code():
    assert not stack.is_user_file(djperf.__file__)


def test_stdlib_is_not_user_code():
    assert not stack.is_user_file(os.__file__)


def test_site_packages_are_not_user_code():
    purelib = sysconfig.get_paths()["purelib"]
    assert not stack.is_user_file(os.path.join(purelib, "somepackage", "module.py"))


def test_frozen_and_generated_code_is_not_user_code():
    assert not stack.is_user_file("<frozen importlib._bootstrap>")
    assert not stack.is_user_file("<string>")


def test_project_file_is_user_code():
    assert stack.is_user_file(os.path.abspath("example/shopsite/settings.py"))


def test_root_setting(settings, tmp_path):
    settings.DJPERF = {**settings.DJPERF, "ROOT": str(tmp_path)}
    inside = tmp_path / "app" / "views.py"
    assert stack.display_path(str(inside)) == os.path.join("app", "views.py")
    outside = os.path.abspath(__file__)
    assert stack.display_path(outside) == outside


def test_library_paths_setting(settings):
    settings.DJPERF = {**settings.DJPERF, "LIBRARY_PATHS": [os.path.abspath("tests/record")]}
    assert not stack.is_user_file(os.path.abspath(__file__))
    assert stack.user_location() is None


def test_user_paths_setting_wins_over_site_packages(settings):
    purelib = sysconfig.get_paths()["purelib"]
    project = os.path.join(purelib, "myshop")
    settings.DJPERF = {**settings.DJPERF, "USER_PATHS": [project]}
    assert stack.is_user_file(os.path.join(project, "views.py"))
    assert not stack.is_user_file(os.path.join(purelib, "otherlib", "x.py"))


def test_library_paths_must_be_a_list(settings):
    settings.DJPERF = {**settings.DJPERF, "LIBRARY_PATHS": "tests"}
    with pytest.raises(ValueError, match="must be a list of paths"):
        stack.is_user_file("/x.py")


def test_walk_skips_library_frames():
    # A user function called through a library frame (functools) is found.
    import functools

    def helper():
        return stack.user_location()

    location = functools.partial(helper)()
    assert location.function == "helper"


def test_walk_starts_at_a_given_frame():
    def inner():
        return stack.user_location(sys._getframe(1))

    assert stack.user_location().function == "test_walk_starts_at_a_given_frame"
    assert inner().function == "test_walk_starts_at_a_given_frame"


def test_location_str_and_dict():
    location = Location("shop/views.py", 42, "index")
    assert str(location) == "shop/views.py:42"
    assert Location.from_dict(location.to_dict()) == location


# -- where a finding is located: lines users can act on ------------------------------


@pytest.mark.django_db
def test_a_middleware_that_hands_the_request_on_is_not_the_location(client, settings):
    # The admin's own code makes these queries inside the middleware chain: the
    # first user line outward is not tests/testapp/middleware.py's
    # `return self.get_response(request)`, it is the test's request.
    from django.contrib.auth.models import User

    from tests.helpers import line

    settings.ROOT_URLCONF = "tests.testapp.urls"
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    with djperf.capture() as rec:
        assert client.get("/admin/testapp/book/").status_code == 200  # admin-page
    passing_on = line("tests/testapp/middleware.py", "passes-on")
    assert rec.queries
    assert passing_on not in {str(q.location) for q in rec.queries}
    counts = [q for q in rec.queries if q.fingerprint.upper().startswith("SELECT COUNT(*)")]
    assert {str(q.location) for q in counts} == {line(__file__, "admin-page")}


@pytest.mark.django_db
def test_the_shells_input_line_is_the_location():
    from tests.testapp.models import Book

    code = compile("books = list(Book.objects.all())\n", "<console>", "exec")
    with djperf.capture() as rec:
        exec(code, {"Book": Book})
    assert [str(q.location) for q in rec.queries] == ["<console>:1"]


@pytest.mark.django_db
def test_manage_py_shell_dash_c_is_located_in_its_command():
    from django.core.management import call_command

    command = "from tests.testapp.models import Book\nlist(Book.objects.all())"
    with djperf.capture() as rec:
        call_command("shell", command=command, verbosity=0)
    assert [str(q.location) for q in rec.queries] == ["<string>:2"]


def test_code_generated_by_exec_elsewhere_is_not_user_code():
    # dataclasses and attrs generate methods with exec(): "<string>", not the user's.
    namespace: dict[str, object] = {}
    exec(
        compile("def where():\n    return stack.user_location()\n", "<string>", "exec"),
        {"stack": stack},
        namespace,
    )
    found = namespace["where"]()  # type: ignore[operator]
    assert found is not None and found.path == "tests/record/test_stack.py"


@pytest.mark.django_db
def test_a_project_template_including_a_third_party_one_is_the_location(
    library, settings, tmp_path
):
    from django.template import Context, Engine

    from tests.testapp.models import Book

    project, package = tmp_path / "project", tmp_path / "site-packages" / "crisp"
    project.mkdir()
    package.mkdir(parents=True)
    (project / "books.html").write_text(
        "<ul>\n{% for book in books %}\n  {% include 'field.html' %}\n{% endfor %}\n</ul>\n"
    )
    (package / "field.html").write_text("<li>{{ book.title }}:\n{{ book.author.name }}</li>\n")
    settings.DJPERF = {**settings.DJPERF, "LIBRARY_PATHS": [str(tmp_path / "site-packages")]}
    engine = Engine(dirs=[str(project), str(package)])
    with djperf.capture() as rec:
        engine.get_template("books.html").render(Context({"books": Book.objects.all()}))
    assert rec.lazy_loads
    assert {(load.location.path, load.location.line) for load in rec.lazy_loads} == {
        (str(project / "books.html"), 3)
    }
    assert rec.lazy_loads[0].location.function == "{% include 'field.html' %}"


@pytest.mark.django_db
def test_a_third_party_template_is_the_location_when_no_user_line_is_found(
    library, settings, tmp_path
):
    # With this test file counted as a library too, nothing on the stack is
    # the user's: the third-party template's line is all there is.
    from django.template import Context, Engine

    from tests.testapp.models import Book

    package = tmp_path / "site-packages"
    package.mkdir()
    (package / "list.html").write_text(
        "{% for book in books %}\n{{ book.author.name }}\n{% endfor %}\n"
    )
    template = Engine(dirs=[str(package)]).get_template("list.html")
    books = list(Book.objects.all())
    settings.DJPERF = {
        **settings.DJPERF,
        "LIBRARY_PATHS": [str(package), os.path.dirname(__file__)],
    }
    with djperf.capture() as rec:
        template.render(Context({"books": books}))
    assert len(rec.lazy_loads) == 6
    assert {(load.location.path, load.location.line) for load in rec.lazy_loads} == {
        (str(package / "list.html"), 2)
    }


def test_a_test_changing_directory_does_not_move_the_root(monkeypatch, tmp_path):
    here = os.path.abspath(__file__)
    shown = stack.display_path(here)
    assert shown == "tests/record/test_stack.py"
    monkeypatch.chdir(tmp_path)
    stack.reset()
    assert stack.display_path(here) == shown
