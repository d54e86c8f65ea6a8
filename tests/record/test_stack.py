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
    settings.DJPERF = {"ROOT": str(tmp_path)}
    inside = tmp_path / "app" / "views.py"
    assert stack.display_path(str(inside)) == os.path.join("app", "views.py")
    outside = os.path.abspath(__file__)
    assert stack.display_path(outside) == outside


def test_library_paths_setting(settings):
    settings.DJPERF = {"LIBRARY_PATHS": [os.path.abspath("tests/record")]}
    assert not stack.is_user_file(os.path.abspath(__file__))
    assert stack.user_location() is None


def test_user_paths_setting_wins_over_site_packages(settings):
    purelib = sysconfig.get_paths()["purelib"]
    project = os.path.join(purelib, "myshop")
    settings.DJPERF = {"USER_PATHS": [project]}
    assert stack.is_user_file(os.path.join(project, "views.py"))
    assert not stack.is_user_file(os.path.join(purelib, "otherlib", "x.py"))


def test_library_paths_must_be_a_list(settings):
    settings.DJPERF = {"LIBRARY_PATHS": "tests"}
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
