"""Views for tests that make real requests: one lookup per request, a redirect, a write per POST."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from tests.fakelib.feeds import FeedView
from tests.testapp.models import Book, Tag


def book_detail(request: HttpRequest, pk: int) -> HttpResponse:
    book = Book.objects.get(pk=pk)  # detail-get
    return HttpResponse(f"{book.title} by {book.author.name}")  # detail-author


def book_list(request: HttpRequest) -> HttpResponse:
    titles = [f"{book.title} by {book.author.name}" for book in Book.objects.all()]  # list-author
    return HttpResponse("\n".join(titles))


def first_book(request: HttpRequest) -> HttpResponse:
    return redirect("book-detail", pk=Book.objects.order_by("pk").values_list("pk", flat=True)[0])


def add_tag(request: HttpRequest) -> HttpResponse:
    Tag.objects.create(name=request.POST["name"])  # tag-create
    return redirect("book-list")


class BookFeed(FeedView):
    model = Book
    fields = ("title", "author.name")
