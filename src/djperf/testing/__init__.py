"""Testing with djperf: assertions, the pytest plugin and the manage.py test runner.

    from djperf.testing import assert_constant_queries, assert_num_queries

    with assert_num_queries(2):
        client.get("/orders/")

    assert_constant_queries(make_orders, lambda: client.get("/orders/"))

pytest users get the same through the ``djperf`` fixture and the
``--djperf`` option (``djperf.testing.pytest_plugin``, registered by entry
point); ``manage.py test`` users through ``TEST_RUNNER =
"djperf.testing.DjperfRunner"``; unittest classes through
``DjperfTestCaseMixin``. docs/testing.md has the whole story.

Importing this module loads no Django.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from djperf.testing.assertions import assert_no_warnings, describe
from djperf.testing.counting import QueryCount, assert_max_queries, assert_num_queries
from djperf.testing.methods import DjperfAssertions, DjperfTestCaseMixin
from djperf.testing.records import RecordError, Target, record
from djperf.testing.scaling import DjperfWarning, assert_constant_queries

if TYPE_CHECKING:
    from djperf.testing.runner import DjperfRunner, DjperfRunnerMixin

__all__ = [
    "DjperfAssertions",
    "DjperfRunner",
    "DjperfRunnerMixin",
    "DjperfTestCaseMixin",
    "DjperfWarning",
    "QueryCount",
    "RecordError",
    "Target",
    "assert_constant_queries",
    "assert_max_queries",
    "assert_no_warnings",
    "assert_num_queries",
    "describe",
    "record",
]


def __getattr__(name: str) -> Any:
    # The runner subclasses Django's DiscoverRunner: imported on first use.
    if name in ("DjperfRunner", "DjperfRunnerMixin"):
        value = getattr(importlib.import_module("djperf.testing.runner"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'djperf.testing' has no attribute {name!r}")
