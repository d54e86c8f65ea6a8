"""Settings for the djperf demo shop.

`DJPERF_DB` picks the database: sqlite (the default, nothing to install),
postgres or mysql (MariaDB). See shopsite/databases.py for the addresses.
"""

from __future__ import annotations

import os
from pathlib import Path

from shopsite.databases import database

BASE_DIR = Path(__file__).resolve().parent.parent

# A demo on the loopback: the key only has to be stable, not secret.
SECRET_KEY = "djperf-demo-shop-not-a-secret"
DEBUG = os.environ.get("DJPERF_DEMO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

SHOP_APPS = [
    "catalogue",
    "accounts",
    "pizzas",
    "orders",
    "media",
    "mail",
    "stats",
    "bigdata",
    "rivers",
    "users",
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "djperf",
    # The project package is an app too, for one thing: the seed_shop command,
    # which fills every shop app and so belongs to none of them.
    "shopsite",
    *SHOP_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "shopsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "shopsite.wsgi.application"
ASGI_APPLICATION = "shopsite.asgi.application"

# The SQLite file lives beside manage.py unless DJPERF_SQLITE_DIR moves it.
DATABASES = {
    "default": database(
        os.environ.get("DJPERF_DB", "sqlite"),
        "djperf_shop",
        Path(os.environ.get("DJPERF_SQLITE_DIR") or BASE_DIR),
    ),
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "djperf-shop",
    }
}

# The media app pushes autocomplete prefixes here (seed 004).
REDIS_URL = os.environ.get("DJPERF_REDIS_URL", "redis://127.0.0.1:6379/0")

# The rivers app's stand-in for the USGS water services API (seed 000):
# started on the loopback by the scenarios, answering after this many seconds.
RIVERS_UPSTREAM_LATENCY = float(os.environ.get("DJPERF_RIVERS_LATENCY", "0.05"))
# Where the dashboards call it: the scenarios override this with the address of
# the stand-in they start; `manage.py rivers_upstream` serves it on this port.
RIVERS_UPSTREAM_URL = os.environ.get("DJPERF_RIVERS_URL", "http://127.0.0.1:8089")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
