"""djperf's test assertions as methods: the pytest fixture ``djperf`` and the
unittest mixin ``DjperfTestCaseMixin`` are both this class.

    def test_orders(djperf, client):
        with djperf.assert_max_queries(3):
            client.get("/orders/")

    class OrderTests(DjperfTestCaseMixin, TestCase):
        def test_orders(self):
            with self.assert_max_queries(3):
                self.client.get("/orders/")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from djperf.testing import counting, records, scaling
from djperf.testing.assertions import assert_no_warnings

if TYPE_CHECKING:
    from djperf._capture import capture
    from djperf.record.scope import Recording


class DjperfAssertions:
    """The assertions of ``djperf.testing``, as methods (see each function)."""

    def capture(self, **options: Any) -> capture:
        """``djperf.capture(**options)``."""
        from djperf._capture import capture

        return capture(**options)

    def assert_num_queries(
        self,
        expected: int,
        *,
        using: str | Sequence[str] | None = None,
        transactions: bool = False,
    ) -> counting.QueryCount:
        """Fail unless the block runs exactly `expected` queries (``djperf.testing``)."""
        return counting.assert_num_queries(expected, using=using, transactions=transactions)

    def assert_max_queries(
        self,
        expected: int,
        *,
        using: str | Sequence[str] | None = None,
        transactions: bool = False,
    ) -> counting.QueryCount:
        """Fail when the block runs more than `expected` queries (``djperf.testing``)."""
        return counting.assert_max_queries(expected, using=using, transactions=transactions)

    def assert_constant_queries(
        self,
        populate: Callable[[int], Any],
        action: Callable[[], Any],
        scales: Sequence[int] = (1, 21),
        *,
        per_row: int = 0,
        cache: bool = False,
        http: bool = False,
        using: str | Sequence[str] | None = None,
        databases: Sequence[str] = ("default",),
    ) -> None:
        """Fail when `action` asks more as `populate` adds rows (``djperf.testing``)."""
        __tracebackhide__ = True
        scaling.assert_constant_queries(
            populate,
            action,
            scales,
            per_row=per_row,
            cache=cache,
            http=http,
            using=using,
            databases=databases,
        )

    def assert_no_warnings(self, recording: Recording) -> None:
        """Fail when a capture found a problem at warning level or above."""
        __tracebackhide__ = True
        assert_no_warnings(recording)

    def record(self, *, mode: str | None = None) -> records.record:
        """Compare what the block asks with the test's performance record
        (``test_x.perf.yml`` beside the test; ``djperf.testing.records``)."""
        return records.record(records.numbered(self.record_target()), mode=mode)

    def record_target(self) -> records.Target:
        """Where this test's records live (the fixture and the mixin know)."""
        raise records.RecordError("djperf: this object does not know its test; use record(target)")


class DjperfTestCaseMixin(DjperfAssertions):
    """djperf's assertions for unittest and Django test cases::

        class OrderTests(DjperfTestCaseMixin, TestCase):
            def test_list_scales(self):
                self.assert_constant_queries(make_orders, lambda: self.client.get("/orders/"))

    The names are djperf's (``assert_num_queries``), so they do not shadow
    Django's ``assertNumQueries``, which counts one alias and transaction
    statements.
    """

    def record_target(self) -> records.Target:
        """``test_x.perf.yml`` beside the test case's module, key ``Class.test_method``."""
        return records.target_for(inspect.getfile(type(self)), records.unittest_key(self))
