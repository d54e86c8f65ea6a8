"""Welcome letters and the profile denormalization."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from accounts.denorm import determine_primary_group, profile_groups, refresh_profile_records
from accounts.models import Address, DenormProfileRecord, Profile
from accounts.welcome import send_welcome_letter, welcome_new_customers


@pytest.mark.parametrize(
    ("groups", "primary"),
    [
        ([], ""),
        (["members"], "members"),
        (["newsletter", "staff", "members"], "staff"),
        (["wholesale", "moderators"], "moderators"),
        (["beta-testers"], "beta-testers"),
        (["zeta", "beta-testers", "newsletter"], "newsletter"),
        (["zeta", "beta-testers"], "beta-testers"),
    ],
)
def test_determine_primary_group(groups: list[str], primary: str) -> None:
    assert determine_primary_group(groups) == primary


def test_welcome_letter() -> None:
    address = Address(street="3 rue des Lilas", postcode="69001", city="Lyon", country="FR")
    assert (
        send_welcome_letter(address) == "Welcome to the shop! | 3 rue des Lilas | 69001 Lyon | FR"
    )


def test_welcome_letters_go_to_new_customers_only(seeded: dict[str, int]) -> None:
    letters = welcome_new_customers()
    assert 0 < len(letters) < seeded["accounts.Customer"]


def test_profile_groups_are_sorted_and_include_users_without_groups(
    seeded: dict[str, int],
) -> None:
    loner = User.objects.create(username="loner", password="!")
    Profile.objects.create(user=loner, community="paddlers")
    groups = dict(profile_groups("paddlers"))
    assert groups[loner.pk] == []
    assert all(names == sorted(names) for names in groups.values())
    assert any(len(names) > 1 for names in groups.values())
    expected = {
        profile.user_id: sorted(group.name for group in profile.user.groups.all())
        for profile in Profile.objects.filter(community="paddlers")
    }
    assert groups == expected


def test_refresh_replaces_the_community_records_in_batches(
    seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("accounts.denorm.BATCH_SIZE", 2)
    first = refresh_profile_records("climbers")
    second = refresh_profile_records("climbers")
    assert first == second == Profile.objects.filter(community="climbers").count()
    assert DenormProfileRecord.objects.filter(community="climbers").count() == second
