"""Rebuild the denormalized profile records of one community (seed 004).

seed 004, "prefetch_related + iterator() problem": the task walked every profile
of a community, read ``profile.user.groups.all()`` row by row and wrote one
record per profile. The rewrite reads plain values (group names aggregated by
the database with ArrayAgg on PostgreSQL) and writes with bulk_create in batches:
"from several hours to ~30s".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Q, QuerySet

import djperf
from accounts.models import DenormProfileRecord, Profile

# The seed's final version used 10000; what matters is that memory stays bounded.
BATCH_SIZE = 1000

# The group a member is shown under when they are in several (the first that matches).
GROUP_PRIORITY = ("staff", "moderators", "wholesale", "members", "newsletter")


def determine_primary_group(group_names: Iterable[str]) -> str:
    names = set(group_names)
    for group in GROUP_PRIORITY:
        if group in names:
            return group
    # Groups outside the priority list still beat no group at all.
    return min(names, default="")


def refresh_profile_records_slow(community: str) -> int:
    DenormProfileRecord.objects.filter(community=community).delete()
    count = 0
    for profile in Profile.objects.filter(community=community):
        # Two lazy loads per profile (the user, then the user's groups) ...
        group_names = sorted(group.name for group in profile.user.groups.all())
        # ... and one INSERT per profile.
        DenormProfileRecord.objects.create(
            user_id=profile.user_id,
            community=community,
            primary_group=determine_primary_group(group_names),
            groups=group_names,
        )
        count += 1
    return count


def refresh_profile_records(community: str) -> int:
    DenormProfileRecord.objects.filter(community=community).delete()
    count = 0
    records: list[DenormProfileRecord] = []
    for user_id, group_names in profile_groups(community):
        records.append(
            DenormProfileRecord(
                user_id=user_id,
                community=community,
                primary_group=determine_primary_group(group_names),
                groups=group_names,
            )
        )
        if len(records) == BATCH_SIZE:
            DenormProfileRecord.objects.bulk_create(records)
            count += len(records)
            records = []
    DenormProfileRecord.objects.bulk_create(records)
    return count + len(records)


def profile_groups(community: str) -> Iterator[tuple[int, list[str]]]:
    """(user_id, sorted group names) for each profile of `community`, as plain values."""
    profiles = Profile.objects.filter(community=community).order_by("user_id")
    if connection.vendor == "postgresql":
        yield from _profile_groups_array_agg(profiles)
    else:
        yield from _profile_groups_two_queries(profiles, community)


def _profile_groups_array_agg(profiles: QuerySet[Profile]) -> Iterator[tuple[int, list[str]]]:
    # PostgreSQL only (django.contrib.postgres), hence the import here.
    from django.contrib.postgres.aggregates import ArrayAgg

    rows = profiles.annotate(
        group_names=ArrayAgg(
            "user__groups__name",
            filter=Q(user__groups__isnull=False),
            distinct=True,
            order_by="user__groups__name",
            default=[],
        )
    ).values_list("user_id", "group_names")
    # Keyset batches on the profile's user (one-to-one, so unique): memory
    # flat without a server-side cursor (seed 004's iterator() needed one).
    for batch in djperf.batched(rows, BATCH_SIZE, key="user"):
        for user_id, group_names in batch:
            yield user_id, list(group_names)


def _profile_groups_two_queries(
    profiles: QuerySet[Profile], community: str
) -> Iterator[tuple[int, list[str]]]:
    # Without ArrayAgg: one query over the user-groups through table, grouped in
    # Python. Still two queries in all, whatever the number of profiles.
    memberships = User.groups.through.objects.filter(
        user__profile__community=community
    ).values_list("user_id", "group__name")
    groups_by_user: defaultdict[int, list[str]] = defaultdict(list)
    for user_id, group_name in memberships.iterator():
        groups_by_user[user_id].append(group_name)
    for batch in djperf.batched(profiles.values_list("user_id", flat=True), BATCH_SIZE, key="user"):
        for user_id in batch:
            yield user_id, sorted(groups_by_user[user_id])
