"""URLs for tests that render real pages: the test app's admin sites."""

from django.urls import path

from tests.testapp.admin_site import optimized_site, site

urlpatterns = [path("admin/", site.urls), path("optimized/", optimized_site.urls)]
