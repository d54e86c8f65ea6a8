"""URLs for tests that render real pages: the test app's admin sites and views."""

from django.urls import path

from tests.testapp import views
from tests.testapp.admin_site import optimized_site, site

urlpatterns = [
    path("admin/", site.urls),
    path("optimized/", optimized_site.urls),
    path("books/", views.book_list, name="book-list"),
    path("books/<int:pk>/", views.book_detail, name="book-detail"),
    path("first/", views.first_book, name="first-book"),
    path("tags/", views.add_tag, name="add-tag"),
    path("feed/", views.BookFeed.as_view(), name="book-feed"),
]
