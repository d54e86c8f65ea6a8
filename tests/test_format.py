"""djperf._format: one way to write a duration or a size, everywhere."""

from __future__ import annotations

import pytest

from djperf._format import duration, size


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, "0.0 ms"),
        (0.0016, "1.6 ms"),
        (0.0645, "64.5 ms"),
        (0.0999, "99.9 ms"),
        (0.148, "148 ms"),
        (0.9994, "999 ms"),
        (0.9996, "1.00 s"),
        (1.0, "1.00 s"),
        (2.345, "2.35 s"),
    ],
)
def test_duration(seconds, shown):
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        (0, "0 kB"),
        (43_000, "43 kB"),
        (75_400, "75 kB"),
        (999_499, "999 kB"),
        (999_999, "1.0 MB"),
        (1_200_000, "1.2 MB"),
    ],
)
def test_size(length, shown):
    assert size(length) == shown
