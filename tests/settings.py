"""Settings for djperf's own test suite: the demo shop plus a small test app.

`DJPERF_TEST_DB` picks the backend (sqlite, postgres, mysql). Every run uses
database names of its own (`test_djperf_<run>` and `test_djperf_<run>_other`),
created and dropped by pytest-django, so parallel runs and leftovers of a
killed run never collide.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from shopsite.databases import database
from shopsite.settings import *  # noqa: F403
from shopsite.settings import INSTALLED_APPS, MIDDLEWARE

BACKEND = os.environ.get("DJPERF_TEST_DB", "sqlite")
RUN_ID = os.environ.get("DJPERF_RUN_ID") or uuid.uuid4().hex[:10]
_SQLITE_DIR = Path(tempfile.gettempdir())

DATABASES = {
    "default": database(BACKEND, f"djperf_{RUN_ID}", _SQLITE_DIR),
    # A second alias: capture() must see every alias, including connections
    # first opened inside a capture scope.
    "other": database(BACKEND, f"djperf_{RUN_ID}_other", _SQLITE_DIR),
}
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.admin", "tests.testapp"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A middleware of the project's own that only hands requests on (test_stack.py).
MIDDLEWARE = [*MIDDLEWARE, "tests.testapp.middleware.PassingOn"]

# djperf's own tests write the code under test inline, in test functions: for
# djperf, that is the application. Only tests/as_tests.py plays the test's
# part (a loop in a test calling the application), so that test-driven
# repetition can be tested; tests of the default test paths set their own.
DJPERF = {"TEST_PATHS": ["tests/as_tests.py"]}
