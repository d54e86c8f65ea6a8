"""Demo data of the rivers app: six gauging stations on the Yellowstone River (seed 000)."""

from __future__ import annotations

from rivers.models import RiverSite

# Upstream to downstream. seed 000: "six access points on the Yellowstone River
# in my home state of Montana".
SITES = (
    ("06191500", "Yellowstone River at Corwin Springs"),
    ("06192500", "Yellowstone River near Livingston"),
    ("06214500", "Yellowstone River at Billings"),
    ("06295000", "Yellowstone River at Forsyth"),
    ("06309000", "Yellowstone River at Miles City"),
    ("06329500", "Yellowstone River near Sidney"),
)


def clear() -> None:
    RiverSite.objects.all().delete()


def seed(scale: float) -> dict[str, int]:
    # A fixed six at every scale: the dashboard makes one upstream call per site.
    sites = RiverSite.objects.bulk_create(
        RiverSite(site_id=site_id, name=name, position=position)
        for position, (site_id, name) in enumerate(SITES)
    )
    return {"rivers.RiverSite": len(sites)}
