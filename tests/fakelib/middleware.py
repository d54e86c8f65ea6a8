"""A third-party middleware that counts the books before every request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from tests.testapp.models import Book


class CountingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.book_count = Book.objects.count()  # type: ignore[attr-defined]
        return self.get_response(request)
