"""The capture hooks: each module installs and uninstalls itself.

- db:        every statement, through Django's ``connection.execute_wrapper``
- orm:       queryset evaluations and prefetches; tags instances with their provenance
- relations: lazy loads of every relation kind and of deferred fields
- writes:    operations (deletes, bulk_*, related managers' set/add...) and their reads
- usage:     which select_related / prefetch_related relations were used
- http:      outbound HTTP (requests, httpx, urllib3, urllib.request) and its timeout
- cache:     Django's cache API and redis-py commands
- threads:   the user line behind an ``await`` that hops to a worker thread

install() is idempotent and called by the djperf app's ready() and by every
capture() entry, so a capture works even when djperf is not in INSTALLED_APPS.
"""

from __future__ import annotations

import threading

from djperf.record.hooks import (
    admin,
    cache,
    columns,
    db,
    http,
    orm,
    relations,
    threads,
    usage,
    writes,
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
        from djperf import conf

        conf.connect_signals()
        db.install()
        orm.install()
        writes.install()
        usage.install()
        relations.install()
        threads.install()
        http.install()
        cache.install()
        admin.install()
        _installed = True


def uninstall() -> None:
    global _installed
    with _lock:
        admin.uninstall()
        cache.uninstall()
        http.uninstall()
        threads.uninstall()
        relations.uninstall()
        usage.uninstall()
        columns.uninstall()
        writes.uninstall()
        orm.uninstall()
        db.uninstall()
        _installed = False


def installed() -> bool:
    return _installed
