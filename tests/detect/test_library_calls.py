"""Work a third-party package repeats inside one call from the user's code is
the package's own: no repetition rule reports it. Called in a loop, it is the
user's loop (djperf.detect._work.judge)."""

from __future__ import annotations

import pytest

import djperf
from tests.fakelib import thumbnails
from tests.helpers import line

pytestmark = pytest.mark.django_db
HERE = __file__
RULES = ("write-in-loop", "cache-in-loop", "duplicate-query", "repeated-query")


def test_one_call_repeating_inside_a_library_is_no_finding(library, fakelib, empty_cache):
    with djperf.capture() as rec:
        thumbnails.get_thumbnail("cover")
    # It did repeat: five writes, gets and sets, an EXISTS per size.
    assert len([q for q in rec.queries if q.fingerprint.startswith("INSERT")]) == 5
    assert len(rec.cache_calls) == 10
    assert {call.via for call in rec.cache_calls} == {"tests"}
    assert len({call.library_call for call in rec.cache_calls}) == 1
    assert [f.rule for f in rec.findings if f.rule in RULES] == []


def test_two_calls_repeating_inside_a_library_are_two_calls(library, fakelib, empty_cache):
    # Each call's work counts once: two calls are below every threshold.
    with djperf.capture() as rec:
        thumbnails.get_thumbnail("cover")
        thumbnails.get_thumbnail("back")
    assert len({call.library_call for call in rec.cache_calls}) == 2
    assert [f.rule for f in rec.findings if f.rule in RULES] == []


def test_the_same_library_call_in_a_loop_is_the_users(library, fakelib, empty_cache):
    names = ("a", "b", "c", "d", "e")
    with djperf.capture() as rec:
        for name in names:
            thumbnails.get_thumbnail(name)  # thumbnail-loop
    found = {f.rule: f for f in rec.findings if f.rule in RULES}
    assert set(found) >= {"write-in-loop", "cache-in-loop", "repeated-query"}
    assert str(found["write-in-loop"].location) == line(HERE, "thumbnail-loop")
    assert found["write-in-loop"].fix.method == "call_once"
    assert len({call.library_call for call in rec.cache_calls}) == len(names)
    # No cache.get_many(): the gets are inside the package's call.
    cache_fix = found["cache-in-loop"].fix
    assert cache_fix.method == "call_once"
    assert " calls are tests's, one per call at " in cache_fix.text


def test_a_loop_of_three_calls_is_a_loop_of_three(library, fakelib, empty_cache):
    # write-in-loop's threshold is three writes: three calls reach it, the
    # five writes each call makes inside do not count five times.
    with djperf.capture() as rec:
        for name in ("a", "b", "c"):
            thumbnails.get_thumbnail(name)
    assert {f.rule for f in rec.findings if f.rule in RULES} == {"write-in-loop"}


def test_without_a_library_the_same_repetition_is_flagged(library, empty_cache):
    # tests/fakelib not declared a library: the loop inside is user code.
    with djperf.capture() as rec:
        thumbnails.get_thumbnail("cover")
    assert {"write-in-loop", "cache-in-loop", "repeated-query"} <= {f.rule for f in rec.findings}
    assert {call.via for call in rec.cache_calls} == {None}


def _render(source, **context):
    from django.template import Context, Engine

    engine = Engine(libraries={"fakethumbs": "tests.fakelib.templatetags"})
    return engine.from_string(source).render(Context(context))


def test_a_library_tag_rendered_once_is_one_call(library, fakelib, empty_cache):
    with djperf.capture() as rec:
        _render("{% load fakethumbs %}{% thumb 'cover' %}")
    assert len(rec.cache_calls) == 10
    assert {call.via for call in rec.cache_calls} == {"tests"}
    assert [f.rule for f in rec.findings if f.rule in RULES] == []


def test_a_library_tag_in_a_template_loop_is_the_templates_loop(library, fakelib, empty_cache):
    with djperf.capture() as rec:
        _render(
            "{% load fakethumbs %}{% for n in names %}\n{% thumb n %}{% endfor %}",
            names=["a", "b", "c", "d", "e"],
        )
    # One call per render of the tag: five, each with its five sets and gets.
    assert len({call.library_call for call in rec.cache_calls}) == 5
    found = [f for f in rec.findings if f.rule == "cache-in-loop"]
    assert sorted(f.count for f in found) == [25, 25]
    assert {(f.location.line, f.location.function) for f in found} == {(2, "{% thumb n %}")}


def test_a_library_called_through_django_is_still_one_call(library, fakelib, empty_cache):
    # The user's line -> Django's cached_property -> the package: the call
    # into the package is below a frame of Django's.
    with djperf.capture() as rec:
        assert len(thumbnails.Thumbnailed("cover").thumbnail) == 5
    assert {call.via for call in rec.cache_calls} == {"tests"}
    assert len({call.library_call for call in rec.cache_calls}) == 1
    assert [f.rule for f in rec.findings if f.rule in RULES] == []
