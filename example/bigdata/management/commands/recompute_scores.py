"""manage.py recompute_scores: update SomeModel.field from its JSON (seed 000)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management import BaseCommand

from bigdata.recompute import CHUNK_SIZE, METHODS


class Command(BaseCommand):
    help = (
        "Updates SomeModel.field based on some_calculation, in one of seed 000's five ways "
        "or with djperf.update_in_batches()."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--method",
            choices=list(METHODS),
            default="paginator_bulk",
            help="queryset, iterator, iterator_bulk, paginator or paginator_bulk (seed 000's "
            "methods 1 to 5; %(default)s, the seed's winner, is the default), or djperf "
            "(keyset batches, one UPDATE per batch)",
        )
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("Starting")
        # As in the seed: Ctrl-C stops the run cleanly. Rows already saved stay
        # saved; with the bulk methods, the chunk in progress is lost.
        try:
            count = METHODS[options["method"]](options["chunk_size"])
        except KeyboardInterrupt:
            self.stdout.write("KeyboardInterrupt")
        else:
            self.stdout.write(f"Updated {count} rows with method {options['method']}")
        self.stdout.write("Done")
