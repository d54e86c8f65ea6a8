"""Where a queryset was built: the line that called ``Model.objects...``.

A queryset is often built in one place (a manager method, a view's
``get_queryset()``) and evaluated in another (a template's ``{% for %}``); a
finding names both, and its fix goes where the queryset is built.
``BaseManager.get_queryset`` is wrapped only while a capture is open (usage.py
installs it with the relation-use wrappers): it notes the user line on the
Query, and ``Query.clone()`` carries it to every refinement.
"""

from __future__ import annotations

from typing import Any

from djperf._errors import contain
from djperf.record.hooks._state import CURRENT_PREFETCH
from djperf.record.scope import active, stacks_wanted
from djperf.record.stack import user_location

# The attribute a Query carries: the Location of the line that built its queryset.
MARK = "_djperf_built"


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
