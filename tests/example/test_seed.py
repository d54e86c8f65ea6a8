"""The seed: deterministic, rerunnable, scaled, and shaped for the scenarios."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from bigdata.models import SomeModel
from catalogue.models import Product
from catalogue.seed import FEATURED_PRODUCT_SLUG
from mail.models import Email, Mailer
from mail.retention import CATCH_UP, RETENTION
from shopsite.seed import scaled, seed_shop


def snapshot() -> dict[str, list[object]]:
    """Content that must come out the same on every run (ids may differ)."""
    return {
        "products": list(Product.objects.values_list("slug", "title", "price", "brand__name")),
        "bigdata": list(SomeModel.objects.values_list("data", "field")),
        "mailers": list(Mailer.objects.values_list("name", flat=True)),
    }


@pytest.mark.django_db
def test_same_counts_and_rows_twice() -> None:
    first = seed_shop(scale=0.1)
    first_rows = snapshot()
    second = seed_shop(scale=0.1)
    assert second == first
    assert snapshot() == first_rows


@pytest.mark.django_db
def test_reseeding_replaces_the_rows() -> None:
    counts = seed_shop(scale=0.1)
    seed_shop(scale=0.1)
    assert Product.objects.count() == counts["catalogue.Product"]
    assert Product.objects.filter(slug=FEATURED_PRODUCT_SLUG).count() == 1


def test_scaled_keeps_a_minimum() -> None:
    assert scaled(200, 1.0) == 200
    assert scaled(200, 0.2) == 40
    assert scaled(200, 0.01, minimum=10) == 10


@pytest.mark.django_db
def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        seed_shop(scale=0)
    with pytest.raises(CommandError, match="positive"):
        call_command("seed_shop", "--scale", "-1")


def test_old_mailers_have_no_emails_left(seeded: dict[str, int]) -> None:
    # The purge scenario relies on it: emails exist only for mailers newer than
    # the retention plus the catch-up window, and some of those are due.
    now = timezone.now()
    mailer_ids_with_email = set(Email.objects.values_list("mailer_id", flat=True))
    sent = dict(Mailer.objects.values_list("id", "sent"))
    assert all(now - sent[mailer_id] < RETENTION + CATCH_UP for mailer_id in mailer_ids_with_email)
    assert any(now - sent[mailer_id] > RETENTION for mailer_id in mailer_ids_with_email)
    assert sum(now - when > RETENTION + CATCH_UP for when in sent.values()) > len(sent) / 2


@pytest.mark.django_db
def test_command_prints_the_counts() -> None:
    from io import StringIO

    out = StringIO()
    call_command("seed_shop", "--scale", "0.05", stdout=out)
    assert "catalogue.Product" in out.getvalue()
    assert out.getvalue().rstrip().endswith("rows.")
    assert Product.objects.exists()


def test_fixed_times_are_aware() -> None:
    from shopsite.seed import BASE_TIME

    assert BASE_TIME.tzinfo is datetime.UTC
