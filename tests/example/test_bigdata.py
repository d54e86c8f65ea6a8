"""recompute_scores: seed 000's five methods and djperf's reach the same end state."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from bigdata.calculations import some_calculation
from bigdata.models import SomeModel
from bigdata.recompute import METHODS


def end_state() -> list[tuple[int, int]]:
    return list(SomeModel.objects.order_by("pk").values_list("pk", "field"))


def test_calculation() -> None:
    obj = SomeModel(data={"views": 1234, "likes": 10, "shares": 2, "flags": ["spam"]})
    assert some_calculation(obj) == 30 + 10 + 12 - 10
    assert some_calculation(SomeModel(data={})) == 0


def test_every_method_same_end_state(seeded: dict[str, int]) -> None:
    expected = [(obj.pk, some_calculation(obj)) for obj in SomeModel.objects.order_by("pk")]
    assert expected != end_state()  # the seed stores the old calculation
    assert "djperf" in METHODS
    for method in METHODS:
        SomeModel.objects.update(field=0)
        out = StringIO()
        # A chunk size that does not divide the row count: the last chunk is partial.
        call_command("recompute_scores", "--method", method, "--chunk-size", "150", stdout=out)
        assert end_state() == expected, method
        assert f"Updated {len(expected)} rows with method {method}" in out.getvalue()


def test_keyboard_interrupt_is_caught(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(chunk_size: int) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(METHODS, "queryset", interrupted)
    out = StringIO()
    call_command("recompute_scores", "--method", "queryset", stdout=out)
    assert out.getvalue().splitlines() == ["Starting", "KeyboardInterrupt", "Done"]
