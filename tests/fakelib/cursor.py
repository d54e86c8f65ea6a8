"""A third-party package that wraps Django's cursor (an APM agent, a metrics exporter)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def wrapping(execute: Callable[..., Any]) -> Callable[..., Any]:
    def timed_execute(self: Any, sql: str, params: Any = None) -> Any:
        return execute(self, sql, params)

    return timed_execute
