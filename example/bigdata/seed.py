"""Demo data of the bigdata app: rows whose stored score predates the new calculation."""

from __future__ import annotations

from bigdata.models import SomeModel
from shopsite.seed import rng_for, scaled

FLAGS = ("duplicate", "spam", "off-topic")


def clear() -> None:
    SomeModel.objects.all().delete()


def seed(scale: float) -> dict[str, int]:
    rng = rng_for("bigdata")
    rows = []
    for _ in range(scaled(2000, scale, minimum=100)):
        data = {
            "views": rng.randint(0, 50_000),
            "likes": rng.randint(0, 500),
            "shares": rng.randint(0, 100),
            "flags": rng.sample(FLAGS, rng.choice((0, 0, 0, 1, 2))),
        }
        # The old calculation's value: recompute_scores replaces it.
        rows.append(SomeModel(data=data, field=data["likes"] + data["shares"]))
    SomeModel.objects.bulk_create(rows)
    return {"bigdata.SomeModel": len(rows)}
