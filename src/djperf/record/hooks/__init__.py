"""The capture hooks: each module installs and uninstalls itself.

- db:        every statement, through Django's ``connection.execute_wrapper``
- orm:       queryset evaluations and prefetches; tags instances with their provenance
- writes:    operations (deletes, bulk_*, related managers' set/add...) and their reads
- columns:   which wide (text, binary, JSON) columns a queryset's rows read
- usage:     which select_related / prefetch_related relations were used (watched
             only until an eager load's first read), and (with built) where each
             queryset was built
- relations: lazy loads of every relation kind and of deferred fields
- threads:   the user line behind an ``await`` that hops to a worker thread
- http:      outbound HTTP (requests, httpx, urllib3, urllib.request) and its timeout
- cache:     Django's cache API and redis-py commands
- admin:     which ModelAdmin an admin changelist's queries belong to
- requests:  where each request begins and ends (Django's handler)
- tasks:     where each Celery task run begins and ends (when Celery is installed)
- commands:  where each management command run begins and ends

`HOOKS` is the order of installation; uninstall() runs it backwards.
install() is idempotent and called by the djperf app's ready() and by every
capture() entry, so a capture works even when djperf is not in INSTALLED_APPS.
"""

from __future__ import annotations

import threading
from types import ModuleType

from djperf import conf
from djperf.record.hooks import (
    admin,
    cache,
    columns,
    commands,
    db,
    http,
    orm,
    relations,
    requests,
    tasks,
    threads,
    usage,
    writes,
)

HOOKS: tuple[ModuleType, ...] = (
    db,
    orm,
    writes,
    columns,
    usage,
    relations,
    threads,
    http,
    cache,
    admin,
    requests,
    tasks,
    commands,
)

_lock = threading.Lock()
_installed = False


def install() -> None:
    global _installed
    if installed():
        return
    with _lock:
        if installed():  # another thread won the race
            return
        conf.connect_signals()
        for hook in HOOKS:
            hook.install()
        _installed = True


def uninstall() -> None:
    global _installed
    with _lock:
        for hook in reversed(HOOKS):
            hook.uninstall()
        _installed = False


def installed() -> bool:
    return _installed


def scope_opened() -> None:
    """A capture scope is opening in this thread or task."""
    # Connections this thread opened before djperf installed.
    db.attach_current_thread()
    usage.scope_opened()


def scope_closed() -> None:
    """A capture scope closed (in any thread)."""
    usage.scope_closed()
