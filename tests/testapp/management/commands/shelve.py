"""A command that counts the B books: once, or (--twice) twice in one run."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from djperf.record.work import REQUEST
from tests.testapp.models import Book


class Command(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--twice", action="store_true")
        parser.add_argument("--runs", type=int, default=0, help="run itself this many times")
        parser.add_argument("--unit", action="store_true", help="print its unit of work")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["unit"]:
            self.stdout.write(repr(REQUEST.get()))
            return
        for _ in range(options["runs"]):
            call_command("shelve")
        if options["runs"]:
            return
        for _ in range(2 if options["twice"] else 1):
            self.stdout.write(str(Book.objects.filter(title__startswith="B").count()))
