"""Writes that read: evaluations Django runs to decide what to write are no lazy loads.

The deletion collector evaluates the querysets it deletes (``author.books.all()
.delete()`` reads the books to cascade), and a related manager's ``set()``,
``add()``, ``remove()`` and ``clear()`` read the current rows before writing.
While they run, ``WRITING`` is set, and orm.py records the evaluations of a
related manager's queryset as plain evaluations, not as lazy loads that a
prefetch could have saved. Their statements are still recorded.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db.models.deletion import Collector

from djperf.record.hooks._patch import Patches
from djperf.record.hooks._state import WRITING

_patches = Patches()
MANAGER_WRITES = ("add", "remove", "clear", "set")


def _writing(original: Any) -> Any:
    # functools.wraps keeps Django's alters_data flag, which templates obey.
    @functools.wraps(original)
    def method(*args: Any, **kwargs: Any) -> Any:
        token = WRITING.set(True)
        try:
            return original(*args, **kwargs)
        finally:
            WRITING.reset(token)

    return method


def watch_manager(manager_class: type) -> None:
    """Mark the write methods of a related manager class Django just built."""
    for name in MANAGER_WRITES:
        original = vars(manager_class).get(name)
        if original is not None:
            setattr(manager_class, name, _writing(original))


def install() -> None:
    if not _patches:
        _patches.wrap(Collector, "collect", _writing)


def uninstall() -> None:
    _patches.undo()
