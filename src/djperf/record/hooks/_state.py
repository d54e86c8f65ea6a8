"""Context variables the hooks share while a capture is active.

``CURRENT_LOAD`` is the lazy load in progress: the database hook adds each
statement to it, and the ORM hook gives the instances it builds that load as
their provenance. ``CURRENT_PREFETCH`` is the prefetch_related level in
progress. Both are ContextVars so threads and tasks never see each other's.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType
from typing import Any

from djperf.findings import Location
from djperf.record.events import LazyLoad, Provenance, QueryRole


@dataclass(frozen=True, slots=True)
class PrefetchStep:
    """One level of a prefetch_related lookup being fetched."""

    # Provenance of the instances the relation is fetched for.
    parent: Provenance | None
    # The relation, as written in the lookup ("tags" in "book__tags").
    name: str
    # The lazy load this prefetch serves (Django 6.1's FETCH_PEERS), if any.
    load: LazyLoad | None


@dataclass(frozen=True, slots=True)
class Operation:
    """One Django operation that sends several statements: a delete with its
    cascades, a bulk_create in batches, a related manager's set()."""

    kind: QueryRole
    number: int


# The operation in progress; nested operations belong to the outermost.
OPERATION: ContextVar[Operation | None] = ContextVar("djperf_operation", default=None)

# True while Django reads rows only to decide what to write: the deletion
# collector, a related manager's set()/add()/remove()/clear(). Evaluations of
# a related manager's queryset there are no lazy loads.
WRITING: ContextVar[bool] = ContextVar("djperf_writing", default=False)

CURRENT_LOAD: ContextVar[LazyLoad | None] = ContextVar("djperf_current_load", default=None)
# While a queryset evaluation builds its rows: the frame its walk to the user
# line started from, and what that walk found (a stack.Site). Its statement
# shares it when nothing but library code runs between (stack.same_way_out).
EVALUATION_SITE: ContextVar[tuple[FrameType, Any] | None] = ContextVar(
    "djperf_evaluation_site", default=None
)

# True while a prefetch_related level runs with no capture open: the related
# manager querysets it builds, one per instance, get their results from it
# and are not marked (see relations.py).
PREFETCHING_IDLE: ContextVar[bool] = ContextVar("djperf_prefetching_idle", default=False)
CURRENT_PREFETCH: ContextVar[PrefetchStep | None] = ContextVar(
    "djperf_current_prefetch", default=None
)

# While an admin changelist counts its rows: its ModelAdmin class's location
# (see admin.py).
CHANGELIST: ContextVar[Location | None] = ContextVar("djperf_changelist", default=None)

# While Model.save_base runs (every save(), proxies included): the label of
# the model class of the instance being saved (see writes.py).
SAVING: ContextVar[str | None] = ContextVar("djperf_saving", default=None)
