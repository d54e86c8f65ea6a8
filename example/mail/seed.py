"""Demo data of the mail app, placed relative to now: the purge compares against now().

Mailers go back two years, one every twelve hours for the last seventeen days
and sparser before. Only mailers of the last two weeks plus three days still
have emails: the daily purge removed the older ones long ago (seed 004), so
the slow purge's IN list names hundreds of mailers with nothing left to delete.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from mail.models import Email, Mailer
from mail.retention import CATCH_UP, RETENTION
from shopsite.seed import insert, rng_for, scaled

# Every 12 hours, 3 hours off the hour: never within 3 hours of the purge's
# bounds (14 and 17 days ago), which move with the clock while the demo runs.
RECENT_STEP_HOURS = 12
RECENT_OFFSET_HOURS = 3
SUBJECTS = ("Your order has shipped", "Spring sale", "New in: tents", "Your receipt", "We miss you")


def clear() -> None:
    Email.objects.all().delete()
    Mailer.objects.all().delete()


def seed(scale: float) -> dict[str, int]:
    rng = rng_for("mail")
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    kept = RETENTION + CATCH_UP
    recent_hours = range(RECENT_OFFSET_HOURS, int(kept.total_seconds() // 3600), RECENT_STEP_HOURS)
    recent = [now - datetime.timedelta(hours=hours) for hours in recent_hours]
    old_count = scaled(266, scale, minimum=30)
    # Old mailers: from 17 days plus 5 hours back to about two years back.
    old = [
        now - kept - datetime.timedelta(hours=5 + number * (2 * 365 * 24 // old_count))
        for number in range(old_count)
    ]
    mailers = insert(
        Mailer,
        [
            Mailer(name=f"{rng.choice(SUBJECTS)} #{i}", sent=sent)
            for i, sent in enumerate(recent + old)
        ],
    )
    emails = [
        Email(
            mailer_id=mailer.pk,
            recipient=f"customer{rng.randint(1, 500)}@mail.example",
            subject=mailer.name,
            body=f"Hello,\n\n{mailer.name}.\n\nThe shop team",
        )
        for mailer in mailers[: len(recent)]
        for _ in range(rng.randint(2, 6))
    ]
    Email.objects.bulk_create(emails)
    return {"mail.Mailer": len(mailers), "mail.Email": len(emails)}
