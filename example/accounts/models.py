"""Models of the accounts app: customers with postal addresses, and member profiles.

Customers and their addresses are seed 003's first example (the welcome-letter
loop). Profiles, their auth groups and the denormalized profile records are
seed 004's "prefetch_related + iterator() problem".
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Address(models.Model):
    street = models.CharField(max_length=200)
    postcode = models.CharField(max_length=20)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2, default="FR")

    class Meta:
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return f"{self.street}, {self.postcode} {self.city}"


class Customer(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField()
    address = models.ForeignKey(Address, models.PROTECT, related_name="customers")
    # Signed up since the last welcome-letter run.
    is_new = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="profile")
    community = models.CharField(max_length=50, db_index=True)
    bio = models.TextField(blank=True)

    class Meta:
        ordering = ["user_id"]

    def __str__(self) -> str:
        return f"profile of user {self.user_id} ({self.community})"


class DenormProfileRecord(models.Model):
    """A read model rebuilt from Profile and the auth groups (seed 004).

    ``user_id`` is a plain integer: the table is dropped and refilled by a task,
    so it carries no foreign key to check on every insert.
    """

    user_id = models.PositiveBigIntegerField(db_index=True)
    community = models.CharField(max_length=50, db_index=True)
    primary_group = models.CharField(max_length=150, blank=True)
    groups = models.JSONField(default=list)

    class Meta:
        ordering = ["user_id"]

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.primary_group or 'no group'}"
