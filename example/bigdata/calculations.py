"""The score stored in SomeModel.field, computed from SomeModel.data (seed 000).

"Of course, requirements change and the calculation I had been using needed to
use different values from the JSONField": this is the new calculation, and every
existing row needs it recomputed.
"""

from __future__ import annotations

from bigdata.models import SomeModel


def some_calculation(obj: SomeModel) -> int:
    data = obj.data
    engagement = 3 * data.get("likes", 0) + 5 * data.get("shares", 0)
    reach = data.get("views", 0) // 100
    penalty = 10 * len(data.get("flags", []))
    return engagement + reach - penalty
