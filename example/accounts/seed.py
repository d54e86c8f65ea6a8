"""Demo data of the accounts app: customers with addresses, shoppers with profiles and groups."""

from __future__ import annotations

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group, User
from django.utils.text import slugify

from accounts.models import Address, Customer, DenormProfileRecord, Profile
from shopsite.seed import BASE_TIME, insert, rng_for, scaled

USERNAME_PREFIX = "shopper"
COMMUNITIES = ("climbers", "cyclists", "paddlers")
# "beta-testers" is in no priority list: determine_primary_group's fallback.
GROUPS = ("staff", "moderators", "wholesale", "members", "newsletter", "beta-testers")
FIRST_NAMES = ("Ada", "Björn", "Camille", "Dara", "Elif", "Femi", "Gaspard", "Hana", "Ivo", "Jade")
LAST_NAMES = (
    "Moreau",
    "Okafor",
    "Lindqvist",
    "Ferreira",
    "Nakamura",
    "Kowalski",
    "Haddad",
    "Rossi",
)
STREETS = (
    "rue des Lilas",
    "avenue Jean Jaurès",
    "chemin du Lac",
    "place du Marché",
    "quai Rambaud",
)
CITIES = (("69001", "Lyon"), ("38000", "Grenoble"), ("74000", "Annecy"), ("73000", "Chambéry"))


def shopper_username(number: int) -> str:
    """The username of the `number`-th seeded shopper, from 1."""
    return f"{USERNAME_PREFIX}{number:03d}"


def clear() -> None:
    DenormProfileRecord.objects.all().delete()
    Customer.objects.all().delete()
    Address.objects.all().delete()
    # Only the seeded users and groups: a developer's superuser survives a reseed.
    User.objects.filter(username__startswith=USERNAME_PREFIX).delete()
    Group.objects.filter(name__in=GROUPS).delete()


def seed(scale: float) -> dict[str, int]:
    rng = rng_for("accounts")
    groups = insert(Group, [Group(name=name) for name in GROUPS])

    users = []
    for number in range(1, scaled(100, scale, minimum=20) + 1):
        first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = shopper_username(number)
        users.append(
            User(
                username=username,
                first_name=first_name,
                last_name=last_name,
                email=f"{username}@shop.example",
                password=UNUSABLE_PASSWORD_PREFIX,
                date_joined=BASE_TIME,
            )
        )
    users = insert(User, users)
    memberships = [
        User.groups.through(user_id=user.pk, group_id=group.pk)
        for user in users
        for group in rng.sample(groups, rng.randint(0, 3))
    ]
    User.groups.through.objects.bulk_create(memberships)
    profiles = Profile.objects.bulk_create(
        Profile(
            user=user,
            community=rng.choice(COMMUNITIES),
            bio=f"{user.first_name} likes the outdoors.",
        )
        for user in users
    )

    addresses = []
    customers = []
    for _ in range(scaled(60, scale, minimum=12)):
        postcode, city = rng.choice(CITIES)
        addresses.append(
            Address(
                street=f"{rng.randint(1, 120)} {rng.choice(STREETS)}", postcode=postcode, city=city
            )
        )
    addresses = insert(Address, addresses)
    for address in addresses:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        customers.append(
            Customer(
                name=name,
                email=f"{slugify(name).replace('-', '.')}@mail.example",
                address=address,
                is_new=rng.random() < 0.4,
            )
        )
    Customer.objects.bulk_create(customers)
    return {
        "auth.Group": len(groups),
        "auth.User": len(users),
        "auth.User_groups": len(memberships),
        "accounts.Profile": len(profiles),
        "accounts.Address": len(addresses),
        "accounts.Customer": len(customers),
    }
