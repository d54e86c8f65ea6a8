"""Demo data of the media app: video titles, some with stray spaces as typed by editors."""

from __future__ import annotations

from media.models import Video
from shopsite.seed import rng_for, scaled

# Capitals stay ASCII: SQLite's LOWER() folds only ASCII letters (see
# media/autocomplete.py); lower-case accents are fine on every backend.
SUBJECTS = (
    "Paddling the Yellowstone",
    "Crossing the Alps",
    "Bivouac on the ridge",
    "Crème brûlée at base camp",
    "Packing light",
    "First ascent",
    "Winter camping",
    "Trail running",
    "Rope basics",
    "Map and compass",
)
FORMATS = ("{subject}: day {n}", "{subject} - part {n}", "How to: {subject}", "{subject} ({n} km)")


def clear() -> None:
    Video.objects.all().delete()


def seed(scale: float) -> dict[str, int]:
    rng = rng_for("media")
    videos = []
    for _ in range(scaled(120, scale, minimum=20)):
        title = rng.choice(FORMATS).format(subject=rng.choice(SUBJECTS), n=rng.randint(1, 40))
        # One title in four keeps the stray spaces the autocomplete task trims.
        if rng.random() < 0.25:
            title = f"  {title} "
        videos.append(Video(title=title, duration_seconds=rng.randint(30, 3600)))
    Video.objects.bulk_create(videos)
    return {"media.Video": len(videos)}
