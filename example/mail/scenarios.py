"""Slow and optimized scenarios of the mail app (seed 004, email retention)."""

from __future__ import annotations

from mail.models import Email
from mail.retention import remove_old_emails, remove_old_emails_slow
from shopsite.scenarios import Scenario, register


def remaining_email_ids() -> list[int]:
    return sorted(Email.objects.values_list("id", flat=True))


register(
    Scenario(
        name="mail.purge_old_emails",
        title="Email retention purge: IN list of every old mailer vs a bounded range",
        slow=remove_old_emails_slow,
        optimized=remove_old_emails,
        mutates=True,
        outcome=remaining_email_ids,
        source="004 optimized Django blog: 'Optimizing deletion of old records' "
        "(mailers sent between 2 weeks and 2 weeks + 3 days ago)",
        tags=frozenset({"large-in-clause"}),
    )
)
