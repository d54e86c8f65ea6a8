"""Units of work: the call from test code behind an event (a Drive), and what test code is."""

from __future__ import annotations

import sys

import pytest

import djperf
from djperf.record.stack import DEFAULT_TEST_PATHS, is_test_path
from tests import as_tests
from tests.helpers import line
from tests.testapp.models import Book

pytestmark = pytest.mark.django_db
TEST_CODE = "tests/as_tests.py"


def title_of(pk):
    # The application: one query per call.
    return Book.objects.get(pk=pk).title


def _gets(rec):
    return [q for q in rec.queries if q.fingerprint.startswith("SELECT")]


def test_a_loop_in_test_code_is_one_drive_per_call(library):
    pks = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec:
        as_tests.call_each(title_of, pks)
    gets = _gets(rec)
    assert len(gets) == len(pks) == 6
    assert len({q.drive.serial for q in gets}) == 6
    assert {str(q.drive.location) for q in gets} == {line(TEST_CODE, "the-test-loop")}


def test_one_call_from_test_code_is_one_drive(library):
    pks = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec:
        as_tests.call_once(lambda: [title_of(pk) for pk in pks])
    gets = _gets(rec)
    assert len(gets) == 6
    assert len({q.drive.serial for q in gets}) == 1
    assert str(gets[0].drive.location) == line(TEST_CODE, "one-call")


def test_calls_from_three_lines_are_three_drives(library):
    pk = Book.objects.values_list("pk", flat=True)[0]
    with djperf.capture() as rec:
        as_tests.call_three_times(lambda: title_of(pk))
    gets = _gets(rec)
    assert len({q.drive.serial for q in gets}) == 3
    assert str(gets[0].drive.location) == line(TEST_CODE, "first-call")


def test_no_drive_without_test_code_on_the_stack(library):
    # This file is the application for djperf's own suite (tests/settings.py).
    with djperf.capture() as rec:
        [title_of(pk) for pk in Book.objects.values_list("pk", flat=True)]
    assert [q.drive for q in rec.queries] == [None] * 7


def test_no_drive_inside_a_request(library, client, settings):
    settings.ROOT_URLCONF = "tests.testapp.urls"
    with djperf.capture() as rec:
        as_tests.call_once(lambda: client.get("/books/"))
    assert rec.queries and all(q.request is not None and q.drive is None for q in rec.queries)


def test_under_a_trace_function_calls_cannot_be_told_apart(library):
    pks = list(Book.objects.values_list("pk", flat=True))
    previous = sys.gettrace()
    sys.settrace(lambda frame, event, arg: None)
    try:
        with djperf.capture() as rec:
            as_tests.call_each(title_of, pks)
    finally:
        sys.settrace(previous)
    gets = _gets(rec)
    assert len(gets) == 6
    # Each event still names the test's line; only the call is unknown.
    assert {q.drive.serial for q in gets} == {None}
    assert {str(q.drive.location) for q in gets} == {line(TEST_CODE, "the-test-loop")}


def test_the_mark_lives_on_the_call_and_goes_with_it(library):
    pks = list(Book.objects.values_list("pk", flat=True))[:2]
    frames = []

    def remember(pk):
        frames.append(sys._getframe())
        return title_of(pk)

    with djperf.capture():
        as_tests.call_each(remember, pks)
    assert [type(frame.f_trace).__name__ for frame in frames] == ["Drive", "Drive"]
    assert frames[0].f_trace.serial != frames[1].f_trace.serial
    # A no-op if a debugger ever calls it as a trace function.
    assert frames[0].f_trace(frames[0], "line", None) is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tests/test_views.py", True),
        ("shop/tests/test_views.py", True),
        ("shop/tests/factories.py", True),
        ("shop/tests.py", True),
        ("shop/test_views.py", True),
        ("shop/views_test.py", True),
        ("shop/views_tests.py", True),
        ("conftest.py", True),
        ("shop/conftest.py", True),
        ("/abs/project/tests/test_x.py", True),
        ("shop/views.py", False),
        ("shop/latest_views.py", False),
        ("shop/testimonials.py", False),
        ("contest/views.py", False),
        ("shop/templates/shop/list.html", False),
    ],
)
def test_the_default_test_paths(path, expected, settings):
    settings.DJPERF = {**settings.DJPERF, "TEST_PATHS": None}
    assert is_test_path(path) is expected


def test_test_paths_can_be_set(settings):
    settings.DJPERF = {**settings.DJPERF, "TEST_PATHS": ["spec/*"]}
    assert is_test_path("spec/views_spec.py")
    assert not is_test_path("tests/test_views.py")
    assert "tests/*" in DEFAULT_TEST_PATHS


def test_a_wrong_test_paths_setting_is_an_error(settings):
    from djperf.conf import ConfigurationError

    settings.DJPERF = {**settings.DJPERF, "TEST_PATHS": "tests/*"}
    with pytest.raises(ConfigurationError, match="TEST_PATHS"):
        djperf.capture()
