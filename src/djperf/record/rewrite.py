"""A change to make to querysets before they run: how ``djperf.verify()`` tries a fix.

verify sets `QUERYSET_REWRITE` while it reruns the user's code with a fix
applied; the ORM hook calls it for every root queryset evaluation (not a
prefetch's or a lazy load's, which run on the same user line) before Django
compiles the query. The callable belongs to verify and the variable to the
recording floor, so recording never imports verify (dependency inversion:
tests/test_layers.py).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

from djperf.findings import Location


class QuerysetRewrite(Protocol):
    def __call__(self, location: Location, queryset: Any, *, chunked: bool) -> None:
        """Change `queryset`, evaluated at the user line `location`, in place.

        `chunked`: it is read by iterator(), whose prefetch lookups Django has
        already taken.
        """


QUERYSET_REWRITE: ContextVar[QuerysetRewrite | None] = ContextVar(
    "djperf_queryset_rewrite", default=None
)
