"""Seed 000's five ways to recompute a field of every row, and djperf's, on three backends.

    python3 -m venv .venv-bench
    .venv-bench/bin/python -m pip install --upgrade pip
    .venv-bench/bin/pip install -e '.[demo]' --group dev matplotlib 'Django>=5.2,<5.3'
    .venv-bench/bin/python benchmarks/batch.py [--backends sqlite postgres mysql]
        [--sizes 50000 1000000] [--methods ...] [--chunk-size 1000] [--timeout 600]
        [--per-row-timeout S] [--json PATH] [--png docs/batch-benchmark.png]

(``make bench-batch`` does the same; ``BENCH_ARGS='--sizes 5000'`` passes options.)
matplotlib is not a djperf dependency: it is imported only to draw the PNG
(``--png ''`` draws none; ``--from-json PATH`` redraws tables and PNG from a run).

The demo's bigdata app (example/bigdata): ``SomeModel(data=JSONField,
field=IntegerField)`` and bigdata.recompute.METHODS, seed 000's queryset,
iterator, iterator_bulk, paginator and paginator_bulk, and djperf
(``update_in_batches``). For each backend and size the script creates a
database of its own (``djperf_bench_batch_<random>``; a temporary file on
SQLite; dropped at the end, on error and on Ctrl-C too), creates the table
(``migrate bigdata``), fills it with N rows of JSON like example/bigdata/seed.py's
and computes, in Python, what every row's field must become. Then each method
runs in a fresh interpreter of its own against that database, after one
(untimed) ``UPDATE ... SET field = 0`` so that it really changes every row
(and, on PostgreSQL, a VACUUM, so that each method finds the table as compact
as the one before). The child reports the method call's wall time and its peak
resident memory above the memory just before the call; the parent kills a child
still running after the timeout ("did not finish in N s", with the rows it had
written) and checks every finished method's result with checksums of the table.

The servers: PostgreSQL and MariaDB/MySQL as example/shopsite/databases.py finds
them (127.0.0.1:5432 user postgres, 127.0.0.1:3306 root; DJPERF_PG_* and
DJPERF_MYSQL_* override).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgres", "mysql")
SIZES = (50_000, 1_000_000)
METHODS = ("queryset", "iterator", "iterator_bulk", "paginator", "paginator_bulk", "djperf")
# One UPDATE per row: the methods --per-row-timeout applies to.
PER_ROW = ("queryset", "iterator", "paginator")
REFERENCE = "paginator_bulk"  # seed 000's winner on memory: the ratios' denominator
PREFIX = "djperf_bench_batch_"
NAME = re.compile(rf"^{PREFIX}[0-9a-f]{{8}}$")
FLAGS = ("duplicate", "spam", "off-topic")
SEED_CHUNK = 10_000
RESULT = "RESULT "  # the child's last line: RESULT {json}
BASELINE = "BASELINE "  # printed by the child just before the method starts


def short(rows: int) -> str:
    """50k, 1M, 5k, 1.5M."""
    if rows >= 1_000_000:
        return f"{rows / 1_000_000:g}M"
    if rows >= 1000:
        return f"{rows / 1000:g}k"
    return str(rows)


# --- the child: one fresh interpreter per seeding and per method -----------------


def setup_django(spec: dict[str, Any]) -> None:
    """Django on the benchmark's database, with the bigdata app and nothing else
    (djperf not in INSTALLED_APPS: no hooks, the ORM as a project has it)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "example")]
    import django
    from django.conf import settings

    databases = importlib.import_module("shopsite.databases")
    settings.configure(
        SECRET_KEY="benchmark",
        DEBUG=False,
        INSTALLED_APPS=["bigdata"],
        DATABASES={
            "default": databases.database(spec["backend"], spec["name"], Path(spec["sqlite_dir"]))
        },
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def rows_of_data(size: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(id, data) of `size` rows, drawn like example/bigdata/seed.py's (same seed each run)."""
    rng = random.Random(f"djperf-bench-batch-{size}")
    for pk in range(1, size + 1):
        yield (
            pk,
            {
                "views": rng.randint(0, 50_000),
                "likes": rng.randint(0, 500),
                "shares": rng.randint(0, 100),
                "flags": rng.sample(FLAGS, rng.choice((0, 0, 0, 1, 2))),
            },
        )


def child_seed(spec: dict[str, Any]) -> dict[str, Any]:
    """Create the table, fill it, and say what the table must hold after a recompute."""
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", "bigdata", verbosity=0)
    models = importlib.import_module("bigdata.models")
    calculations = importlib.import_module("bigdata.calculations")
    model, some_calculation = models.SomeModel, calculations.some_calculation
    started = time.perf_counter()
    # The expected checksums, computed here in Python with the demo's own
    # some_calculation, never read back from the database.
    total = weighted = zeros = 0
    chunk: list[Any] = []

    def flush() -> None:
        with transaction.atomic():
            model.objects.bulk_create(chunk)
        chunk.clear()

    for pk, data in rows_of_data(spec["size"]):
        # The old calculation's value, as seed.py stores it.
        obj = model(id=pk, data=data, field=data["likes"] + data["shares"])
        value = some_calculation(obj)
        total += value
        weighted += value * pk
        zeros += value == 0
        chunk.append(obj)
        if len(chunk) == SEED_CHUNK:
            flush()
    if chunk:
        flush()
    return {
        "table": model._meta.db_table,
        "seconds": time.perf_counter() - started,
        "expected": {"count": spec["size"], "sum": total, "weighted": weighted, "zeros": zeros},
    }


def status_kb(key: str, pid: int | str = "self") -> int:
    """A line of /proc/PID/status, in kB (VmRSS: resident now; VmHWM: its peak)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise LookupError(key)


def reset_peak() -> str:
    """Make VmHWM (the peak resident set) start again from the current RSS.

    Why not resource.getrusage().ru_maxrss: it is the peak of the process's
    whole life, so a peak during the method that stays under one reached
    before it (Django's set-up, the imports) would not show at all. Why not a
    thread sampling VmRSS: it misses a spike between two samples and takes the
    GIL from the method it measures. Linux keeps the exact high-water mark
    (VmHWM, updated by the kernel at every page fault) and lets a process reset
    its own to its current RSS by writing 5 to /proc/self/clear_refs (Linux
    4.0+): read RSS, reset, run the method, read VmHWM; the difference is the
    method's peak above its start, to the page. Where the reset is refused the
    fallback is ru_maxrss, which then only bounds the peak from above.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return "ru_maxrss (process-lifetime peak: an upper bound)"
    return "VmHWM after /proc/self/clear_refs"


def child_run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one method; its wall time, peak memory above baseline and statements."""
    from django.db import connection

    recompute = importlib.import_module("bigdata.recompute")
    method: Callable[[int], int] = recompute.METHODS[spec["method"]]
    connection.ensure_connection()
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    gc.collect()
    peak_source = reset_peak()
    before = status_kb("VmRSS")
    print(BASELINE + str(before), flush=True)
    with connection.execute_wrapper(count):
        started = time.perf_counter()
        rows = method(spec["chunk_size"])
        seconds = time.perf_counter() - started
    if peak_source.startswith("VmHWM"):
        peak = status_kb("VmHWM")
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    return {
        "rows": rows,
        "seconds": seconds,
        "baseline_mb": before / 1024,
        "peak_mb": max(0, peak - before) / 1024,
        "peak_source": peak_source,
        "statements": statements,
    }


def child_main(raw: str) -> int:
    spec: dict[str, Any] = json.loads(raw)
    setup_django(spec)
    result = child_seed(spec) if spec["mode"] == "seed" else child_run(spec)
    print(RESULT + json.dumps(result), flush=True)
    return 0


# --- the parent: databases, children, checks -----------------------------------


def server_version(backend: str) -> str:
    if backend == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    version = str(Database(backend, "", Path()).admin_query("SELECT version()")[0][0])
    return version.split(" on ")[0]  # PostgreSQL's goes on with the compiler


class Database:
    """One benchmark database, created and dropped with the server's own driver
    (the parent keeps no Django state: each child sets Django up afresh)."""

    def __init__(self, backend: str, name: str, sqlite_dir: Path) -> None:
        if str(ROOT / "example") not in sys.path:
            sys.path.insert(0, str(ROOT / "example"))
        databases = importlib.import_module("shopsite.databases")
        self.backend = backend
        self.name = name
        self.sqlite_dir = sqlite_dir
        self.settings: dict[str, Any] = databases.database(backend, name or "x", sqlite_dir)
        self.created = False

    def _connect(self, database: str | None) -> Any:
        s = self.settings
        if self.backend == "sqlite":
            return sqlite3.connect(s["NAME"], isolation_level=None)
        if self.backend == "postgres":
            psycopg = importlib.import_module("psycopg")
            return psycopg.connect(
                host=s["HOST"],
                port=s["PORT"],
                user=s["USER"],
                password=s["PASSWORD"] or None,
                dbname=database or "postgres",
                autocommit=True,
            )
        pymysql = importlib.import_module("pymysql")
        return pymysql.connect(
            host=s["HOST"],
            port=int(s["PORT"]),
            user=s["USER"],
            password=s["PASSWORD"],
            database=database,
            autocommit=True,
        )

    def _query(self, database: str | None, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        connection = self._connect(database)
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            rows = list(cursor.fetchall()) if cursor.description else []
            cursor.close()
            return rows
        finally:
            connection.close()

    def admin_query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """On the server, outside the benchmark database."""
        return self._query(None, sql, params)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """In the benchmark database."""
        return self._query(self.name, sql, params)

    def create(self) -> None:
        assert NAME.match(self.name), self.name
        if self.backend == "sqlite":
            self.sqlite_dir.mkdir()
        elif self.backend == "postgres":
            self.admin_query(f'CREATE DATABASE "{self.name}"')
        else:
            self.admin_query(
                f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        self.created = True

    def end_sessions(self) -> None:
        """End the connections a killed child may have left running on the server
        (a query goes on after its client died): only those on this database."""
        if self.backend == "postgres":
            self.admin_query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.name,),
            )
        elif self.backend == "mysql":
            sessions = self.admin_query(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> "
                "CONNECTION_ID()",
                (self.name,),
            )
            for (session,) in sessions:
                with suppress(Exception):  # it may have ended meanwhile
                    self.admin_query(f"KILL {int(session)}")

    def drop(self) -> None:
        """Drop the database, only if this run created it."""
        if not self.created or not NAME.match(self.name):
            return
        if self.backend == "sqlite":
            shutil.rmtree(self.sqlite_dir, ignore_errors=True)
        elif self.backend == "postgres":
            self.admin_query(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            self.end_sessions()
            self.admin_query(f"DROP DATABASE IF EXISTS `{self.name}`")
        self.created = False

    def reset(self, table: str) -> None:
        """field = 0 on every row (one UPDATE), then, on PostgreSQL, VACUUM: each
        UPDATE leaves a dead copy of every row; vacuumed, each method starts from
        the same table (its dead rows' space free for reuse), not a growing one."""
        self.query(f"UPDATE {table} SET field = 0")
        if self.backend == "postgres":
            self.query(f"VACUUM (ANALYZE) {table}")

    def checksums(self, table: str) -> dict[str, int]:
        """count, SUM(field), SUM(field * id) and the rows at 0: a wrong value on any
        row, a value on the wrong row or a row left out changes at least one."""
        ((count, total, weighted, zeros),) = self.query(
            f"SELECT COUNT(*), COALESCE(SUM(field), 0), COALESCE(SUM(field * id), 0), "
            f"COALESCE(SUM(CASE WHEN field = 0 THEN 1 ELSE 0 END), 0) FROM {table}"
        )
        return {
            "count": int(count),
            "sum": int(total),
            "weighted": int(weighted),
            "zeros": int(zeros),
        }

    def settings_note(self) -> str:
        """What decides the speed of one-row commits on this server."""
        if self.backend == "postgres":
            ((sync,),) = self.admin_query("SHOW synchronous_commit")
            return f"synchronous_commit={sync}"
        if self.backend == "mysql":
            ((flush,),) = self.admin_query("SELECT @@innodb_flush_log_at_trx_commit")
            return f"innodb_flush_log_at_trx_commit={flush}"
        return "Django's defaults (rollback journal, synchronous=FULL)"


def djperf_source() -> str:
    """A digest of src/djperf as it is now: each child imports djperf afresh, so an
    edit of the checkout during a run would change the code the later methods run."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "djperf").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "src_dirty": bool(git("status", "-s", "src"))}


def spawn(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run the child; its RESULT, or {"status": "timeout" | "error", ...}."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.perf_counter()
    try:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # The peak so far, read before the kill (the child reset its VmHWM
            # just before the method, and printed its baseline RSS).
            hwm = None
            with suppress(OSError, LookupError):
                hwm = status_kb("VmHWM", process.pid)
            process.kill()
            out, err = process.communicate()
            baselines = [line for line in out.splitlines() if line.startswith(BASELINE)]
            peak = None
            if hwm is not None and baselines:
                peak = max(0, hwm - int(baselines[-1][len(BASELINE) :])) / 1024
            return {
                "status": "timeout",
                "seconds": timeout,
                "peak_mb": peak,
                "wall_seconds": time.perf_counter() - started,
            }
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    results = [line for line in out.splitlines() if line.startswith(RESULT)]
    if process.returncode != 0 or not results:
        tail = "\n".join(err.strip().splitlines()[-15:])
        return {"status": "error", "error": f"exit {process.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(results[-1][len(RESULT) :])
    result["status"] = "ok"
    return result


def run_case(
    backend: str, size: int, methods: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """Seed one database of `size` rows on `backend`, run every method on it, drop it."""
    name = PREFIX + secrets.token_hex(4)
    work = Path(tempfile.mkdtemp(prefix="djperf-bench-batch-"))
    database = Database(backend, name, work / "db")
    case: dict[str, Any] = {
        "backend": backend,
        "size": size,
        "chunk_size": args.chunk_size,
        "database": name,
        "results": [],
    }
    spec = {
        "backend": backend,
        "name": name,
        "sqlite_dir": str(database.sqlite_dir),
        "size": size,
        "chunk_size": args.chunk_size,
    }
    log(f"== {backend}, {size:,} rows: database {name}")
    try:
        database.create()
        case["server"] = server_version(backend)
        case["server_settings"] = database.settings_note()
        seeded = spawn({**spec, "mode": "seed"}, timeout=max(3600.0, args.timeout))
        if seeded["status"] != "ok":
            raise RuntimeError(f"seeding failed: {seeded.get('error')}")
        table, expected = seeded["table"], seeded["expected"]
        case["seed_seconds"] = seeded["seconds"]
        case["expected"] = expected
        log(f"   seeded in {seeded['seconds']:.1f} s; expected {expected}")
        for method in methods:
            database.reset(table)
            reset = database.checksums(table)
            if reset["sum"] != 0 or reset["count"] != size:
                raise RuntimeError(f"the reset left {reset}")
            timeout = args.per_row_timeout if method in PER_ROW else args.timeout
            source = djperf_source()
            result = spawn({**spec, "mode": "run", "method": method}, timeout)
            result["method"] = method
            result["timeout"] = timeout
            result["djperf_source"] = source
            if djperf_source() != source:
                result["djperf_source"] += " (changed while the method ran)"
            if result["status"] == "timeout":
                database.end_sessions()
                # Rows written before the kill (those whose new value is 0
                # cannot be told from unwritten ones: at most "zeros" more).
                result["rows_done"] = size - database.checksums(table)["zeros"]
            elif result["status"] == "ok":
                found = database.checksums(table)
                result["checksums"] = found
                if found != expected or result["rows"] != size:
                    result["status"] = "wrong"
                    result["error"] = (
                        f"WRONG RESULT: returned {result['rows']} rows; table {found}, "
                        f"expected {expected}"
                    )
            if result["status"] in ("wrong", "error"):
                banner = "!" * 78
                log(f"{banner}\n!!! {backend} {size:,} {method}: {result['error']}\n{banner}")
            log(f"   {method}: {describe(result)}")
            case["results"].append(result)
    finally:
        with suppress(Exception):
            database.end_sessions()
        database.drop()
        shutil.rmtree(work, ignore_errors=True)
        log(f"   dropped {name}")
    add_ratios(case)
    return case


def add_ratios(case: dict[str, Any]) -> None:
    reference = by_method(case).get(REFERENCE)
    base = reference["seconds"] if reference and reference["status"] == "ok" else None
    for result in case["results"]:
        ok = result["status"] == "ok"
        result["rows_per_s"] = case["size"] / result["seconds"] if ok else None
        result["time_vs_reference"] = result["seconds"] / base if ok and base else None


def by_method(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["method"]: result for result in case["results"]}


def describe(result: dict[str, Any]) -> str:
    if result["status"] == "timeout":
        peak = result.get("peak_mb")
        memory = f", peak {peak:.1f} MB so far" if peak is not None else ""
        return f"did not finish in {result['timeout']:g} s ({result['rows_done']:,} rows{memory})"
    if result["status"] == "error":
        return "ERROR " + str(result["error"]).splitlines()[-1]
    line = f"{result['seconds']:.2f} s, {result['peak_mb']:.1f} MB"
    return line + (" WRONG" if result["status"] == "wrong" else "")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the report -----------------------------------------------------------------


def table(case: dict[str, Any]) -> str:
    head = (
        f"{case['backend']}, {case['size']:,} rows, chunk {case['chunk_size']} "
        f"({case.get('server', '?')}; {case.get('server_settings', '')}; "
        f"seeded in {case.get('seed_seconds', 0):.0f} s)"
    )
    lines = [
        head,
        f"  {'method':<15} {'time (s)':>10} {'peak MB':>9} {'rows/s':>9} "
        f"{'vs ' + REFERENCE:>18} {'statements':>11}  check",
    ]
    for r in case["results"]:
        if r["status"] == "timeout":
            peak = r.get("peak_mb")
            memory = f"{'>=' + format(peak, '.1f'):>9}" if peak is not None else f"{'?':>9}"
            done = r["rows_done"]
            lines.append(
                f"  {r['method']:<15} {'>' + format(r['timeout'], 'g'):>10} {memory} "
                f"{'>=' + format(done / r['timeout'], ',.0f'):>9} {'-':>18} {'-':>11}  "
                f"did not finish in {r['timeout']:g} s ({done:,} of {case['size']:,} rows"
                + (
                    f"; all at that rate: ~{r['timeout'] * case['size'] / done:,.0f} s)"
                    if done
                    else ")"
                )
            )
            continue
        if r["status"] == "error":
            lines.append(f"  {r['method']:<15} ERROR {r['error'].splitlines()[-1]}")
            continue
        ratio = r.get("time_vs_reference")
        lines.append(
            f"  {r['method']:<15} {r['seconds']:>10.2f} {r['peak_mb']:>9.1f} "
            f"{r['rows_per_s']:>9,.0f} "
            f"{(format(ratio, '.3f') + 'x') if ratio is not None else '-':>18} "
            f"{r['statements']:>11,}  " + ("ok" if r["status"] == "ok" else "!!! " + r["error"])
        )
    return "\n".join(lines)


def budget_lines(cases: list[dict[str, Any]]) -> list[str]:
    lines = []
    found = {(case["backend"], case["size"]): by_method(case) for case in cases}
    sizes = sorted({case["size"] for case in cases})
    backends = [b for b in BACKENDS if any(case["backend"] == b for case in cases)]
    big, small = sizes[-1], sizes[0]
    for backend in backends:
        results = found.get((backend, big), {})
        djperf, reference = results.get("djperf"), results.get(REFERENCE)
        label = f"djperf vs {REFERENCE} at {short(big)} on {backend}"
        if djperf and reference and djperf["status"] == "ok" and reference["status"] == "ok":
            speedup = reference["seconds"] / djperf["seconds"]
            budget = " (budget >= 10x)" if backend == "postgres" else ""
            lines.append(f"{label}: {speedup:.1f}x faster{budget}")
        elif djperf and reference:
            lines.append(f"{label}: n/a ({describe(djperf)}; {REFERENCE}: {describe(reference)})")
    for backend in backends:
        first = found.get((backend, small), {}).get("djperf")
        last = found.get((backend, big), {}).get("djperf")
        if first and last and small != big:
            a = f"{first['peak_mb']:.1f} MB" if first.get("peak_mb") is not None else "?"
            b = f"{last['peak_mb']:.1f} MB" if last.get("peak_mb") is not None else "?"
            lines.append(f"memory djperf {short(small)} -> {short(big)}: {a} -> {b} ({backend})")
    return lines


def draw(cases: list[dict[str, Any]], png: Path) -> None:
    """Seed 000's memory plot, for every method, size and backend, with time beside it."""
    # Imported here, by name: matplotlib is no dependency of djperf (see the docstring).
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    patches = importlib.import_module("matplotlib.patches")

    backends = [b for b in BACKENDS if any(case["backend"] == b for case in cases)]
    sizes = sorted({case["size"] for case in cases})
    methods = [m for m in METHODS if any(m in by_method(case) for case in cases)]
    figure, axes = plt.subplots(len(backends), 2, figsize=(14, 4.2 * len(backends)), squeeze=False)
    width = 0.8 / len(sizes)
    colours = ["#7fa7d9", "#1f4e8c", "#9bd18b", "#2e7d32"]
    for row, backend in enumerate(backends):
        for column, (key, unit) in enumerate((("peak_mb", "MB"), ("seconds", "s"))):
            ax = axes[row][column]
            for index, size in enumerate(sizes):
                case = next(c for c in cases if c["backend"] == backend and c["size"] == size)
                results = by_method(case)
                for position, method in enumerate(methods):
                    r = results.get(method)
                    if r is None or r["status"] == "error":
                        continue
                    value = r.get(key)
                    if value is None:
                        continue
                    x = position + (index - (len(sizes) - 1) / 2) * width
                    unfinished = r["status"] != "ok"
                    ax.bar(
                        x,
                        max(value, 0.01),
                        width,
                        color=colours[index % len(colours)],
                        hatch="//" if unfinished else None,
                        edgecolor="red" if r["status"] == "wrong" else "black",
                        linewidth=0.5,
                    )
                    text = f"{value:.0f}" if value >= 100 else f"{value:.3g}"
                    if r["status"] == "timeout":
                        text = (">" if key == "seconds" else "\u2265") + text
                    ax.annotate(
                        text,
                        (x, max(value, 0.01)),
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        rotation=90,
                        xytext=(0, 2),
                        textcoords="offset points",
                    )
            ax.set_yscale("log")
            ax.set_xticks(range(len(methods)), methods, rotation=20)
            title = "peak memory above baseline" if key == "peak_mb" else "time"
            ax.set_title(f"{backend}: {title} ({unit}, log scale)")
            ax.set_ylabel(unit)
            ax.margins(y=0.25)
            handles = [
                patches.Patch(facecolor=colours[i % len(colours)], label=f"{short(size)} rows")
                for i, size in enumerate(sizes)
            ]
            handles.append(
                patches.Patch(facecolor="white", edgecolor="black", hatch="//", label="killed")
            )
            ax.legend(handles=handles, fontsize=8)
            ax.grid(axis="y", alpha=0.3)
    chunk = cases[0]["chunk_size"] if cases else "?"
    figure.suptitle(
        "Recomputing SomeModel.field on every row: seed 000's five methods and "
        f"djperf.update_in_batches (chunk {chunk}; hatched: killed at the timeout)"
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=110)
    plt.close(figure)


def machine() -> dict[str, Any]:
    import django

    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def report(data: dict[str, Any], png: str | None) -> int:
    cases = sorted(data["cases"], key=lambda c: (BACKENDS.index(c["backend"]), c["size"]))
    for case in cases:
        print(table(case), end="\n\n")
    for line in budget_lines(cases):
        print(line)
    sources = {r.get("djperf_source") for case in cases for r in case["results"]} - {None}
    if len(sources) > 1:
        print(
            f"\n!!! src/djperf changed during the run ({len(sources)} versions): the methods "
            "did not all run the same djperf (djperf_source in the JSON says which ran which)"
        )
    if png:
        draw(cases, Path(png))
        print(f"\nplot: {png}")
    bad = [r for case in cases for r in case["results"] if r["status"] in ("wrong", "error")]
    return 1 if bad else 0


@contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM (kill PID) unwinds like Ctrl-C, so the databases are dropped."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds per method (default %(default)s)"
    )
    parser.add_argument(
        "--per-row-timeout",
        type=float,
        help=f"seconds for the methods that save row by row ({', '.join(PER_ROW)}); "
        "default: --timeout",
    )
    parser.add_argument("--json", help="write every result here")
    parser.add_argument("--png", default="docs/batch-benchmark.png", help="the plot ('' for none)")
    parser.add_argument("--from-json", help="print and draw a saved run instead of running")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    if args.from_json:
        return report(json.loads(Path(args.from_json).read_text()), args.png)
    if args.per_row_timeout is None:
        args.per_row_timeout = args.timeout
    data: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "git": git_state(),
        "timeout": args.timeout,
        "per_row_timeout": args.per_row_timeout,
        "cases": [],
    }

    def save() -> None:
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(data, indent=1) + "\n")

    with terminated_as_interrupt():
        for backend in args.backends:
            for size in args.sizes:
                data["cases"].append(run_case(backend, size, args.methods, args))
                save()
    data["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    data["budget"] = budget_lines(data["cases"])
    save()
    return report(data, args.png)


if __name__ == "__main__":
    sys.exit(main())
