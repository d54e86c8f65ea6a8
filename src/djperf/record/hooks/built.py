"""Where a queryset was built: the line that called ``Model.objects...``.

A queryset is often built in one place (a manager method, a view's
``get_queryset()``) and evaluated in another (a template's ``{% for %}``); a
finding names both, and its fix goes where the queryset is built.
``BaseManager.get_queryset`` is wrapped (usage.py installs it with the
relation-use wrappers; while no capture is open it returns at once): it
notes the user line on the Query, and ``Query.clone()`` carries it to every
refinement. So are
``QuerySet.select_related`` and ``prefetch_related``: each notes the line that
asked for its lookups, where an unused eager load is to be removed.
"""

from __future__ import annotations

from typing import Any

from djperf._errors import contain
from djperf.record.hooks._state import CURRENT_PREFETCH
from djperf.record.scope import active, stacks_wanted
from djperf.record.stack import user_location

# The attribute a Query carries: the Location of the line that built its queryset.
MARK = "_djperf_built"
# And the line each select_related / prefetch_related lookup was asked for at
# ({"feed__feed_type": Location}): a queryset built in a manager method and
# refined by its caller has its eager loads written at the caller.
EAGER_MARK = "_djperf_eager_at"


def noting_where_built(original: Any) -> Any:
    """BaseManager.get_queryset, noting the user line on the Query."""

    def get_queryset(self: Any) -> Any:
        queryset = original(self)
        scopes = active()
        # Not inside a prefetch: it builds a manager queryset per instance.
        if scopes and CURRENT_PREFETCH.get() is None and stacks_wanted(scopes):
            try:
                queryset._query.__dict__[MARK] = user_location()
            except Exception:
                contain("queryset building")
        return queryset

    return get_queryset


def noting_where_eager(original: Any, prefetch: bool) -> Any:
    """QuerySet.select_related or prefetch_related, noting the user line that
    asked for each lookup on the clone's Query (``Query.clone()`` copies it
    on; each call makes a new dict, so a clone never changes its source's)."""

    def asking(self: Any, *lookups: Any) -> Any:
        queryset = original(self, *lookups)
        scopes = active()
        if lookups and scopes and CURRENT_PREFETCH.get() is None and stacks_wanted(scopes):
            try:
                where = user_location()
                if where is not None:
                    query = queryset._query
                    asked = dict(query.__dict__.get(EAGER_MARK) or {})
                    for lookup in lookups:
                        if lookup is None:
                            continue
                        name = (
                            lookup.prefetch_through
                            if prefetch and not isinstance(lookup, str)
                            else lookup
                        )
                        asked[str(name)] = where
                    query.__dict__[EAGER_MARK] = asked
            except Exception:
                contain("queryset building")
        return queryset

    return asking
