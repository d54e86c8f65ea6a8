"""What does djperf cost on a loop over 400 rows?

    .venv/bin/python benchmarks/capture_overhead.py

Three loops over 400 books (SQLite in memory, the test app's models):

- plain:            for book in Book.objects.all(): book.title, book.summary
- select_related:   for book in Book.objects.select_related("author"): book.author.name
- prefetched M2M:   for book in Book.objects.prefetch_related("tags"): tag names

and a fourth over 400 bios whose 2 kB text is read on every row: the worst
case of unused-column's read watching, which is on for that field while
capturing (the books' 200-character summaries are too short to be watched):

- wide text read:   for bio in Bio.objects.all(): len(bio.text)

That loop is also timed capturing with the watching off (WATCH_FROM out of
reach), to print the watching's own share. Its rows are cheap to build (three
columns), so the capture's fixed cost per row weighs more there than on the
books; it is reported beside the budget, which DESIGN.md sets on the three
book loops (the prefetched one by name).

each timed three ways in the same process, interleaved round by round so
that machine noise hits all of them alike:

- bare:      Django alone, djperf's hooks not installed;
- idle:      djperf installed (as by INSTALLED_APPS), no capture active;
- capturing: inside djperf.capture() (stacks on, as in tests);
- unwatched: capturing, with unused-column's read watching off (wide loop only).

It prints the best time per loop and, as the verdict, the median over rounds of
each round's ratio to bare: the three conditions of one round run back to back,
so a slow spell of the shared machine hits them alike and cancels out. Budgets (DESIGN.md
section 7): capturing at most 1.10x, idle at most 1.02x.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable

from _setup import setup_django

BUDGET = {"idle": 1.02, "capturing": 1.10}
BUDGET_LOOPS = ("plain", "select_related FK", "prefetched M2M")


def populate(rows: int) -> None:
    from tests.testapp.models import Author, Bio, Book, Tag

    authors = Author.objects.bulk_create([Author(name=f"author {i}") for i in range(40)])
    tags = Tag.objects.bulk_create([Tag(name=f"tag {i}") for i in range(20)])
    books = Book.objects.bulk_create(
        [Book(title=f"book {i}", author=authors[i % 40], summary="s" * 200) for i in range(rows)]
    )
    through = Book.tags.through
    through.objects.bulk_create(
        [
            through(book_id=book.pk, tag_id=tags[(i + k) % 20].pk)
            for i, book in enumerate(books)
            for k in range(3)
        ]
    )
    writers = Author.objects.bulk_create([Author(name=f"writer {i}") for i in range(rows)])
    Bio.objects.bulk_create([Bio(author=writer, text="b" * 2000) for writer in writers])


def loops() -> dict[str, Callable[[], object]]:
    from tests.testapp.models import Bio, Book

    def plain() -> object:
        return [(book.title, book.summary) for book in Book.objects.all()]

    def select_related() -> object:
        return [book.author.name for book in Book.objects.select_related("author")]

    def prefetched_m2m() -> object:
        return [
            [tag.name for tag in book.tags.all()] for book in Book.objects.prefetch_related("tags")
        ]

    def wide_text() -> object:
        return [len(bio.text) for bio in Bio.objects.all()]

    keys: list[int] = []

    def get_in_loop() -> object:
        # One get() per book: the per-query cost (the queryset, its
        # statement, the stack walks), which a row loop spreads thin.
        if not keys:
            keys.extend(Book.objects.order_by("pk").values_list("pk", flat=True))
        return [Book.objects.get(pk=pk).title for pk in keys]

    def n_plus_one() -> object:
        # A lazy load per book: the per-load cost, and an n-plus-one
        # finding (its fix read from the source) at the scope's exit.
        return [book.author.name for book in Book.objects.all()]

    return {
        "plain": plain,
        "select_related FK": select_related,
        "prefetched M2M": prefetched_m2m,
        "wide text read": wide_text,
        "get() in loop": get_in_loop,
        "N+1 loop": n_plus_one,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    parser.add_argument("--number", type=int, default=5, help="loops per timing")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print each round's ratios as JSON (for benchmarks/compare_revisions.py)",
    )
    args = parser.parse_args(argv)

    setup_django()
    import djperf
    from djperf.record import hooks
    from djperf.record.hooks import columns

    watch_from = columns.WATCH_FROM

    populate(args.rows)

    def timed(loop: Callable[[], object], condition: str) -> float:
        if condition == "bare":
            hooks.uninstall()
        else:
            hooks.install()
        # Toggling the hooks makes Django rebuild its related manager classes:
        # one untimed loop, so that the timing shows the steady state.
        loop()
        gc.collect()  # every condition starts from the same heap
        columns.WATCH_FROM = sys.maxsize if condition == "unwatched" else watch_from
        capturing = condition in ("capturing", "unwatched")
        scope = djperf.capture() if capturing else contextlib.nullcontext()
        start = time.process_time()
        with scope:
            for _ in range(args.number):
                loop()
        return (time.process_time() - start) / args.number

    results: dict[str, dict[str, list[float]]] = {}
    for name, loop in loops().items():
        conditions = ["bare", "idle", "capturing"]
        if name == "wide text read":
            conditions.append("unwatched")
        samples: dict[str, list[float]] = {c: [] for c in conditions}
        for condition in conditions:  # warm up caches and code paths
            timed(loop, condition)
        for round_number in range(args.rounds):
            # Rotate the order each round so no condition always runs first.
            shift = round_number % len(conditions)
            for condition in conditions[shift:] + conditions[:shift]:
                samples[condition].append(timed(loop, condition))
        results[name] = samples

    if args.json:
        print(json.dumps({"loops": _round_ratios(results)}))
        return 0
    print(
        f"{args.rows} rows, SQLite in memory, {args.rounds} interleaved rounds x {args.number} "
        f"loops, Python {sys.version.split()[0]}, Django {__import__('django').get_version()}"
    )
    print(f"  {'loop':<18} {'best: bare':>11} {'idle':>9} {'capturing':>10}   idle/bare  capt/bare")
    worst = {"idle": 0.0, "capturing": 0.0}
    for name, samples in results.items():
        best = {c: min(times) for c, times in samples.items()}
        ratios = {
            c: statistics.median(
                t / bare for t, bare in zip(samples[c], samples["bare"], strict=True)
            )
            for c in ("idle", "capturing")
        }
        for condition, ratio in ratios.items():
            if name in BUDGET_LOOPS:
                worst[condition] = max(worst[condition], ratio)
        print(
            f"  {name:<18} {best['bare'] * 1e3:9.2f}ms {best['idle'] * 1e3:7.2f}ms "
            f"{best['capturing'] * 1e3:8.2f}ms   {ratios['idle']:8.3f}x {ratios['capturing']:8.3f}x"
        )
        if "unwatched" in samples:
            share = statistics.median(
                t / u for t, u in zip(samples["capturing"], samples["unwatched"], strict=True)
            )
            print(f"  {'':<18} read watching's own share: {share:.3f}x (capturing / unwatched)")
    for condition, budget in BUDGET.items():
        verdict = "within" if worst[condition] <= budget else "OVER"
        print(
            f"  worst {condition} of the book loops: {worst[condition]:.3f}x "
            f"({verdict} the {budget:.2f}x budget)"
        )
    return 0


def _round_ratios(results: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, list[float]]]:
    """Each loop's per-round ratios to bare, per condition."""
    return {
        name: {
            condition: [t / bare for t, bare in zip(times, samples["bare"], strict=True)]
            for condition, times in samples.items()
            if condition != "bare"
        }
        for name, samples in results.items()
    }


if __name__ == "__main__":
    raise SystemExit(main())
