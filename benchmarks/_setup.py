"""Django set-up shared by the benchmark scripts: SQLite in memory, the test app.

djperf is deliberately *not* in INSTALLED_APPS: the scripts install and
uninstall its hooks themselves, so "bare Django" really is bare.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(extra_apps: tuple[str, ...] = ()) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "example")]
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="benchmark",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "tests.testapp",
            *extra_apps,
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        USE_TZ=True,
        DJPERF={"ROOT": str(ROOT)},
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "")


def best_of(function: Callable[[], object], repeat: int, number: int) -> float:
    """The best (least disturbed) time of `number` calls, over `repeat` tries, per call."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def median(values: list[float]) -> float:
    return statistics.median(values)
