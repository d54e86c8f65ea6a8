"""The email retention purge (seed 004)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from mail.models import Email, Mailer
from mail.retention import RETENTION, remove_old_emails, remove_old_emails_slow


@pytest.mark.parametrize("purge", [remove_old_emails, remove_old_emails_slow])
def test_purge_deletes_due_emails_only(seeded: dict[str, int], purge: object) -> None:
    cutoff = timezone.now() - RETENTION
    due = set(Mailer.objects.filter(sent__lte=cutoff).values_list("id", flat=True))
    before = Email.objects.count()
    deleted = purge()  # type: ignore[operator]
    assert deleted > 0
    assert Email.objects.count() == before - deleted
    assert not Email.objects.filter(mailer_id__in=due).exists()
    assert Email.objects.exists()


def test_bounded_purge_misses_mailers_older_than_the_catch_up(db: None) -> None:
    # The trade-off seed 004 accepted: after more than three missed runs, the
    # bounded purge leaves the oldest emails to the slow one.
    Email.objects.all().delete()
    Mailer.objects.all().delete()
    now = timezone.now()
    long_ago = Mailer.objects.create(name="long ago", sent=now - datetime.timedelta(days=30))
    due = Mailer.objects.create(name="due", sent=now - datetime.timedelta(days=15))
    Email.objects.create(mailer_id=long_ago.pk, recipient="a@mail.example", subject="s", body="b")
    Email.objects.create(mailer_id=due.pk, recipient="b@mail.example", subject="s", body="b")
    assert remove_old_emails() == 1
    assert remove_old_emails_slow() == 1
    assert not Email.objects.exists()
