"""Admin sites of the test app's own, mounted by tests/testapp/urls.py: the
changelist's N+1 is among the most common in Django projects.

``site`` lists books the slow way; ``optimized_site`` the same columns with
the fixes djperf names.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tests.testapp.models import Book

site = admin.AdminSite(name="testadmin")
optimized_site = admin.AdminSite(name="optimizedadmin")


class BookAdmin(admin.ModelAdmin):
    # "author" is joined by Django itself; the two methods are not.
    list_display = ("title", "author", "publisher_name", "tag_names")

    @admin.display(description="publisher")
    def publisher_name(self, book: Book) -> str:
        return book.publisher.name if book.publisher else ""  # publisher-access

    @admin.display(description="tags")
    def tag_names(self, book: Book) -> str:
        return ", ".join(tag.name for tag in book.tags.all())  # tags-access


class OptimizedBookAdmin(BookAdmin):
    list_select_related = ["author", "publisher"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Book]:
        return super().get_queryset(request).prefetch_related("tags")


site.register(Book, BookAdmin)
optimized_site.register(Book, OptimizedBookAdmin)
