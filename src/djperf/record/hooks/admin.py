"""The Django admin's changelist: which ModelAdmin a query belongs to.

A changelist's N+1 is written in the ModelAdmin (``list_display``), but the
queryset is built and evaluated inside Django's admin, so the usual fix
(``.select_related(...)`` at the line that evaluated it) has nowhere to go.
The fix belongs on the ModelAdmin: ``list_select_related``, its
``get_queryset()``, or ``show_full_result_count``. So while a capture is open:

- the queryset ``ChangeList.get_queryset()`` returns carries the ModelAdmin's
  class location on its Query (clones keep it), and the evaluation of the page
  records it as ``Evaluation.admin``;
- statements sent by ``ChangeList.get_results()`` (the counts) record it as
  ``Query.admin``.

Installed only when ``django.contrib.admin`` is; with no capture active the
wrappers call straight through, once per changelist page.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from django.apps import apps

from djperf._errors import contain
from djperf.findings import Location
from djperf.record.hooks._patch import Patches
from djperf.record.hooks._state import CHANGELIST
from djperf.record.scope import active
from djperf.record.stack import display_path

# On a Query: the Location of the ModelAdmin class whose changelist built it.
MARK = "_djperf_admin"

_patches = Patches()
_places: dict[type, Location] = {}


def admin_location(admin_class: type) -> Location:
    """Where `admin_class` is defined: the fix is written there."""
    found = _places.get(admin_class)
    if found is None:
        try:
            path = display_path(inspect.getsourcefile(admin_class) or "?")
            line = inspect.getsourcelines(admin_class)[1]
        except (OSError, TypeError):
            path, line = admin_class.__module__, 0
        found = _places[admin_class] = Location(path, line, admin_class.__qualname__)
    return found


def _marking_queryset(original: Any) -> Any:
    @functools.wraps(original)
    def get_queryset(self: Any, *args: Any, **kwargs: Any) -> Any:
        queryset = original(self, *args, **kwargs)
        if active():
            try:
                queryset.query.__dict__[MARK] = admin_location(type(self.model_admin))
            except Exception:
                contain("admin changelist")
        return queryset

    return get_queryset


def _counting(original: Any) -> Any:
    @functools.wraps(original)
    def get_results(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not active():
            return original(self, *args, **kwargs)
        try:
            token = CHANGELIST.set(admin_location(type(self.model_admin)))
        except Exception:
            contain("admin changelist")
            return original(self, *args, **kwargs)
        try:
            return original(self, *args, **kwargs)
        finally:
            CHANGELIST.reset(token)

    return get_results


def install() -> None:
    if _patches or not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib.admin.views.main import ChangeList

    _patches.wrap(ChangeList, "get_queryset", _marking_queryset)
    _patches.wrap(ChangeList, "get_results", _counting)


def uninstall() -> None:
    _patches.undo()
