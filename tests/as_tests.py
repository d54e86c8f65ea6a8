"""Code that plays a test's part for djperf: tests/settings.py names this file
as test code (DJPERF["TEST_PATHS"]), so a loop here calling the application
is a loop in a test. djperf's own test functions count as the application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def call_each(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """A test's loop: one call of `function` per item."""
    return [function(item) for item in items]  # the-test-loop


def call_three_times(function: Callable[[], Any]) -> None:
    """A test calling the same code from three lines, without a loop."""
    function()  # first-call
    function()
    function()


def call_once(function: Callable[[], Any]) -> Any:
    """A test calling the application once."""
    return function()  # one-call


def evaluate(queryset: Any) -> list[Any]:
    """A test evaluating a queryset itself."""
    return list(queryset)  # evaluated-here


def all_of(model: Any) -> Any:
    """A test building a queryset of its own to hand to the application."""
    return model.objects.all()  # built-by-the-test


def review(book: Any) -> Any:
    """A test writing a row of its own for an object the application made."""
    from tests.testapp.models import Review

    return Review.objects.create(book=book, rating=5)  # test-writes
