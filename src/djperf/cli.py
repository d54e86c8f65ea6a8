"""The ``djperf`` command line (also ``python -m djperf``).

Exit codes: 0 clean, 1 findings at or above the failing severity, 2 usage or
setup error, with a one-line message saying what to do.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import djperf

# What the demo shop imports beyond djperf and Django (the `demo` extra).
DEMO_NEEDS = ("redis", "requests", "httpx")


class SetupError(Exception):
    """Something the user has to fix before the command can run."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="djperf",
        description="Find, fix and prove Django performance problems.",
    )
    parser.add_argument("--version", action="version", version=f"djperf {djperf.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run the demo shop's scenarios under djperf and print the report",
        description=(
            "Seed the demo shop (example/ in a djperf checkout) on SQLite, run every "
            "slow and optimized scenario under djperf.capture() and print a table."
        ),
    )
    demo.add_argument(
        "--path",
        type=Path,
        default=None,
        help="the demo shop directory (default: ./example)",
    )
    demo.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every seed size by this (default: 1)",
    )
    demo.add_argument(
        "--only", action="append", default=[], help="run only scenarios whose name has this text"
    )

    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "demo":
            return _demo(args.path, args.scale, args.only)
    except SetupError as error:
        print(f"djperf: {error}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")


def _demo(path: Path | None, scale: float, only: list[str]) -> int:
    shop = (path or Path.cwd() / "example").resolve()
    if not (shop / "manage.py").is_file() or not (shop / "shopsite").is_dir():
        raise SetupError(
            f"no demo shop at {shop}: run `djperf demo` from a djperf checkout, "
            "or pass --path to its example/ directory"
        )
    if scale <= 0:
        raise SetupError("--scale must be positive")
    missing = [name for name in DEMO_NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise SetupError(
            f"the demo shop needs {', '.join(missing)}, not installed here: "
            "pip install 'djperf[demo]' (or `make demo` in a djperf checkout)"
        )
    sys.path.insert(0, str(shop))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")
    import django

    django.setup()
    demo = importlib.import_module("shopsite.demo")
    code: int = demo.main(scale=scale, only=only)
    return code
