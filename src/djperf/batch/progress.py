"""A progress bar for batch jobs: rows done of the total, rate and time left.

``progress=True`` draws on standard error; ``progress=self.stdout`` inside a
management command draws on the command's output (Django's OutputWrapper
appends a newline to each write, which would break the bar's redrawing, so
the stream it wraps is used). Nothing is drawn when the stream is not a
terminal (a log file, a pipe, cron): the job's own output stays clean.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO, Any


class Progress:
    """Rows done, as a context manager around a job: ``advance(rows)`` after
    each batch."""

    def __init__(self, target: bool | IO[str] | None, total: int | None, label: str) -> None:
        self._bar: Any = None
        self._task: Any = None
        stream = _stream(target)
        if stream is None or not _is_terminal(stream):
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        console = Console(file=stream, force_terminal=True)
        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows, {task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task(label, total=total, rate="- rows/s")

    def set_total(self, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    @property
    def drawing(self) -> bool:
        return self._bar is not None

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, rows: int) -> None:
        if self._bar is None:
            return
        self._bar.advance(self._task, rows)
        speed = self._bar.tasks[0].speed
        self._bar.update(self._task, rate=f"{speed:,.0f} rows/s" if speed else "- rows/s")


def _stream(target: bool | IO[str] | None) -> IO[str] | None:
    if target is None or target is False:
        return None
    if target is True:
        return sys.stderr
    # A management command's self.stdout: the stream it wraps.
    inner: IO[str] = getattr(target, "_out", target)
    return inner


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
