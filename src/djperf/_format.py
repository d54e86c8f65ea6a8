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


def block(head: str, message: str, rows: list[tuple[str, str]], *, width: int = 80) -> str:
    """A finding as plain text: its head line, its message and its labelled
    rows, wrapped to `width` columns with an indent (the same block the
    terminal report prints, so a failing test reads well without colours)::

        n-plus-one  shop.Order.customer  x20  3.1 ms
          Order.customer was loaded one order at a time: 20 queries, ...
          at       shop/views.py:42  order_list
          fix      .select_related('customer')
    """
    import textwrap

    lines = [head]
    lines += textwrap.wrap(
        message,
        width=width,
        initial_indent="  ",
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or ["  "]
    for label, value in rows:
        lines += textwrap.wrap(
            value,
            width=width,
            initial_indent=f"  {label:<8} ",
            subsequent_indent=" " * 13,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [f"  {label}"]
    return "\n".join(lines)
