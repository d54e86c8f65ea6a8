"""Slow and optimized scenarios of the accounts app (seeds 003 and 004)."""

from __future__ import annotations

from accounts.denorm import refresh_profile_records, refresh_profile_records_slow
from accounts.models import DenormProfileRecord
from accounts.welcome import welcome_new_customers, welcome_new_customers_slow
from shopsite.scenarios import Scenario, register

# The community whose records the denormalization scenario rebuilds.
COMMUNITY = "paddlers"


def denorm_slow() -> int:
    return refresh_profile_records_slow(COMMUNITY)


def denorm_optimized() -> int:
    return refresh_profile_records(COMMUNITY)


def denorm_outcome() -> list[tuple[int, str, str, tuple[str, ...]]]:
    records = DenormProfileRecord.objects.all()
    return sorted(
        (record.user_id, record.community, record.primary_group, tuple(record.groups))
        for record in records
    )


register(
    Scenario(
        name="accounts.welcome_letters",
        title="Welcome letters to new customers: one address query per customer",
        slow=welcome_new_customers_slow,
        optimized=welcome_new_customers,
        source="003 backend performance talk: send_welcome_letter(new_user.address), "
        "'Here comes select_related'",
        tags=frozenset({"n-plus-one"}),
    )
)
register(
    Scenario(
        name="accounts.denormalize_profiles",
        title="Rebuild denormalized profile records with their group names",
        slow=denorm_slow,
        optimized=denorm_optimized,
        mutates=True,
        outcome=denorm_outcome,
        source="004 optimized Django blog: 'prefetch_related + iterator() problem' "
        "(ArrayAgg, values_list, bulk_create in batches)",
        tags=frozenset({"n-plus-one", "write-in-loop"}),
    )
)
