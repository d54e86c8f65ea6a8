"""Models of the mail app: mailers and the copy of every email sent (seed 004).

seed 004, "Optimizing deletion of old records": for historical reasons the email
table has no foreign keys; ``mailer_id`` is an indexed integer column, a soft
foreign key, because a join on the once humongous table would kill the database.
"""

from __future__ import annotations

from django.db import models


class Mailer(models.Model):
    name = models.CharField(max_length=200)
    sent = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-sent", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sent:%Y-%m-%d})"


class Email(models.Model):
    # A soft foreign key to Mailer: no constraint, an index.
    mailer_id = models.PositiveBigIntegerField(db_index=True)
    recipient = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.subject} to {self.recipient}"
