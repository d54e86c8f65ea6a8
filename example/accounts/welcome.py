"""Welcome letters for the customers who signed up since the last run (seed 003).

The talk's question: "How many queries are made in this simple snippet?"
Answer: N + 1, one for the customers and one per customer for the address.
"""

from __future__ import annotations

from accounts.models import Address, Customer


def send_welcome_letter(address: Address) -> str:
    """Queue a welcome letter for `address`; returns the envelope as printed.

    The shop's printer picks up the envelopes; the demo only builds them, so the
    cost that remains is the one seed 003 is about: loading each address.
    """
    return " | ".join(
        [
            "Welcome to the shop!",
            address.street,
            f"{address.postcode} {address.city}",
            address.country,
        ]
    )


def welcome_new_customers_slow() -> list[str]:
    new_customers = Customer.objects.filter(is_new=True)
    return [send_welcome_letter(customer.address) for customer in new_customers]


def welcome_new_customers() -> list[str]:
    # "Here comes select_related": the addresses come with the customers, one JOIN.
    new_customers = Customer.objects.filter(is_new=True).select_related("address")
    return [send_welcome_letter(customer.address) for customer in new_customers]
