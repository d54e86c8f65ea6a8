"""URLs of the demo shop: each app mounts its slow and optimized views."""

from django.urls import include, path

from shopsite.settings import SHOP_APPS

urlpatterns = [path(f"{app}/", include(f"{app}.urls")) for app in SHOP_APPS]
