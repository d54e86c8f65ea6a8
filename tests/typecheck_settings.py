"""Minimal settings for mypy's Django plugin: Django's own apps and djperf only."""

SECRET_KEY = "typecheck-only"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djperf"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
