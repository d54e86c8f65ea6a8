"""Testing with djperf: assertions on what a capture found.

    with djperf.capture() as rec:
        client.get("/books/")
    assert_no_warnings(rec)

(The pytest plugin and the manage.py test runner will live here too.)
"""

from __future__ import annotations

from djperf.testing.assertions import assert_no_warnings, describe

__all__ = ["assert_no_warnings", "describe"]
