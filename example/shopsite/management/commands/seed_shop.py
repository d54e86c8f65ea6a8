"""manage.py seed_shop: replace the shop's data with the deterministic demo data."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management import BaseCommand, CommandError

from shopsite.seed import seed_shop


class Command(BaseCommand):
    help = "Clear the demo shop's data and fill it again, the same data every time."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="multiply row counts (default 1.0: about 200 products, 2000 bigdata rows)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["scale"] <= 0:
            raise CommandError("--scale must be a positive number, e.g. --scale 0.2")
        counts = seed_shop(scale=options["scale"])
        width = max(map(len, counts))
        for label, count in counts.items():
            self.stdout.write(f"{label:<{width}}  {count:>6}")
        self.stdout.write(f"Seeded {sum(counts.values())} rows.")
