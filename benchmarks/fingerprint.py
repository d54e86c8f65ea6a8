"""How fast is djperf's SQL fingerprint, against one built on sqlparse?

    .venv/bin/python benchmarks/fingerprint.py

The corpus is real SQL compiled by Django from the test app's querysets (with
%s placeholders, as djperf sees it) plus IN lists of several lengths, a
multi-row INSERT and savepoints. Three timings, all in this one run:

- djperf, cold: the regular-expression pass itself (its cache bypassed);
- djperf, warm: through the cache, as in an N+1 where Django sends the same text;
- sqlparse: parse, replace literal and placeholder tokens, join (the approach of
  django-perf-rec, which is reported slow in its issue #601).

It prints microseconds per statement and the ratios.
"""

from __future__ import annotations

import argparse
import sys

from _setup import best_of, setup_django


def corpus() -> list[str]:
    from django.db import connection
    from django.db.models import Count, Prefetch, Q
    from tests.testapp.models import Author, Book, Review, Tag

    querysets = [
        Book.objects.filter(pk=1),
        Book.objects.filter(title__icontains="x").order_by("-id")[:20],
        Book.objects.select_related("author", "publisher").filter(author__name="a"),
        Review.objects.select_related("book__publisher").filter(rating__gte=3),
        Author.objects.annotate(n=Count("books")).filter(n__gt=2),
        Book.objects.filter(Q(title="a") | Q(summary__contains="b"), author_id__in=[1, 2, 3]),
        Tag.objects.filter(books__author__name__startswith="A").distinct(),
        Book.objects.only("title").exclude(publisher__isnull=True),
        Author.objects.prefetch_related(Prefetch("books", queryset=Book.objects.all())),
    ]
    querysets += [Book.objects.filter(pk__in=range(size)) for size in (1, 10, 100, 1000)]
    statements = [qs.query.sql_with_params()[0] for qs in querysets]
    values = ", ".join(["(%s, %s)"] * 50)
    statements.append(f'INSERT INTO "testapp_tag" ("id", "name") VALUES {values}')
    ops = connection.ops
    statements += [
        ops.savepoint_create_sql("s140234_x1"),
        ops.savepoint_commit_sql("s140234_x1"),
        ops.savepoint_rollback_sql("s140234_x2"),
    ]
    return statements


def sqlparse_fingerprint(sql: str) -> str:
    import sqlparse
    from sqlparse import tokens

    parts = []
    for token in sqlparse.parse(sql)[0].flatten():
        if token.ttype in tokens.Literal or token.ttype in tokens.Name.Placeholder:
            parts.append("#")
        elif token.ttype in tokens.Whitespace or token.ttype in tokens.Newline:
            parts.append(" ")
        elif token.ttype in tokens.Comment:
            continue
        else:
            parts.append(token.value)
    return " ".join("".join(parts).split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--number", type=int, default=20)
    args = parser.parse_args(argv)

    setup_django()
    from djperf.record import sql

    statements = corpus()

    def cold() -> None:
        for text in statements:
            sql._fingerprint(text)

    def warm() -> None:
        for text in statements:
            sql.fingerprint(text)

    def with_sqlparse() -> None:
        for text in statements:
            sqlparse_fingerprint(text)

    warm()
    per = len(statements)
    results = {
        "djperf (cold)": best_of(cold, args.repeat, args.number) / per,
        "djperf (warm)": best_of(warm, args.repeat, args.number * 10) / per,
        "sqlparse": best_of(with_sqlparse, args.repeat, max(1, args.number // 4)) / per,
    }
    print(f"{per} statements, best of {args.repeat} runs, Python {sys.version.split()[0]}")
    for name, seconds in results.items():
        print(f"  {name:<15} {seconds * 1e6:10.2f} us per statement")
    base = results["sqlparse"]
    print(f"  djperf cold is {base / results['djperf (cold)']:.0f}x faster than sqlparse")
    print(f"  djperf warm is {base / results['djperf (warm)']:.0f}x faster than sqlparse")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
