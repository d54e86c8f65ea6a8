"""The djperf Django app: installs the capture hooks once Django is ready."""

from __future__ import annotations

from django.apps import AppConfig


class DjperfConfig(AppConfig):
    name = "djperf"
    verbose_name = "djperf"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from djperf.record import hooks

        # Installed but idle costs one ContextVar lookup per query and per
        # queryset evaluation (benchmarks/capture_overhead.py measures it).
        hooks.install()
