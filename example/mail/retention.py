"""The daily purge of the emails kept for debugging: retention is two weeks (seed 004).

seed 004: the task listed every mailer older than two weeks ("100k members, and
growing daily since it's a list of all mailers ever sent") and deleted the
emails with mailer_id IN that list, which degraded into a sequential scan: 20 to
30 minutes. Since the task runs daily, only mailers sent between two weeks and
two weeks plus three days ago can still have emails ("some redundancy ... in
case something prevents the task from running for a day or two").
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from mail.models import Email, Mailer

RETENTION = timedelta(weeks=2)
# How many missed daily runs the bounded purge still catches up on.
CATCH_UP = timedelta(days=3)


def remove_old_emails_slow() -> int:
    old_mailer_ids = list(
        Mailer.objects.filter(sent__lte=timezone.now() - RETENTION).values_list("id", flat=True)
    )
    # Email has no relations and no delete signals, so delete() is one DELETE
    # statement (the seed forced that with _raw_delete); the cost is the IN list.
    deleted, _ = Email.objects.filter(mailer_id__in=old_mailer_ids).delete()
    return deleted


def remove_old_emails() -> int:
    cutoff = timezone.now() - RETENTION
    due_mailers = Mailer.objects.filter(sent__gt=cutoff - CATCH_UP, sent__lte=cutoff)
    # One statement: DELETE ... WHERE mailer_id IN (SELECT id ... a 3-day range).
    deleted, _ = Email.objects.filter(mailer_id__in=due_mailers.values("id")).delete()
    return deleted
