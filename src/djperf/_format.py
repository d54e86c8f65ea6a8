"""How djperf writes durations and sizes, the same in a finding's message, in
the report and in a verify() proof: "1.6 ms", "148 ms", "2.35 s"; "43 kB", "1.2 MB"."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """Tenths of a millisecond below 100 ms, whole milliseconds below a second, then seconds."""
    if seconds < 0.1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 0.9995:  # from where whole milliseconds would round to "1000 ms"
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def size(length: int) -> str:
    """A number of characters or bytes: whole kilobytes below a megabyte (1 kB = 1000)."""
    if length >= 999_500:  # from where whole kilobytes would round to "1000 kB"
        return f"{length / 1_000_000:.1f} MB"
    return f"{length / 1000:.0f} kB"
