"""Performance records: what a block asks of the database, the caches and
other hosts, kept in a YAML file beside the test and compared on every run.

    def test_checkout(djperf, client):
        with djperf.record():
            client.post("/checkout/", {...})

writes ``test_checkout.perf.yml`` beside the test module on the first run::

    test_checkout:
    - 'db: SELECT ... FROM shop_cart WHERE shop_cart.id = #'
    - 'cache: default get cart:#'
    - 'http: POST payments.example.com/v1/charges'

and from then on fails when the block asks something else, with a diff that
names the line of each new operation. An operation is a statement's
fingerprint (transaction statements left out, the alias named when it is not
``default``), a cache or Redis command with its key's template (values as
``#``: the keys themselves are never written), or an HTTP call's method,
host and path template.

Record modes (``--djperf-record=MODE``, ``DJPERF["RECORD_MODE"]``; ``none``
when the CI environment variable is set, else ``once``):

- ``once``: a missing record is written; an existing one is compared;
- ``none``: nothing is written; a missing record fails (CI: a record is
  written on a developer's machine and reviewed, never invented by CI);
- ``all``: every record is written as the block ran, and a changed one still
  fails its test, so the diff is seen once;
- ``overwrite``: every record is written as the block ran, and none fails
  (after a deliberate change).

Files are read and written under a lock (safe with pytest-xdist and
``--parallel``), keys sorted, so a diff in review shows what changed.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from djperf.findings import Location
from djperf.record.sql import is_transaction
from djperf.testing.counting import short_sql, wrapped
from djperf.testing.scaling import url_template

if TYPE_CHECKING:
    from djperf._capture import capture
    from djperf.record.scope import Recording

MODES = ("once", "none", "all", "overwrite")
SUFFIX = ".perf.yml"


class RecordError(AssertionError):
    """A block's operations differ from its record, or the record is missing."""


@dataclass(frozen=True)
class Target:
    """Where a test's records live: the file and the test's key in it."""

    path: Path  # the .perf.yml file
    key: str  # "test_checkout", "CheckoutTests.test_checkout", "test_list[2]"


# The test running now, set by the pytest plugin and the manage.py runner, so
# that djperf.testing.record() knows where to write: a callable giving its
# Target (computed only when a test asks for it: most never do).
CURRENT_TEST: ContextVar[Callable[[], Target] | None] = ContextVar(
    "djperf_current_test", default=None
)
# The mode chosen on the command line (None: the setting, then CI, then once).
_chosen_mode: str | None = None


def choose_mode(mode: str | None) -> None:
    """Set the run's record mode (the plugin's and the runner's --djperf-record)."""
    global _chosen_mode
    if mode is not None and mode not in MODES:
        raise ValueError(f"record mode must be one of {', '.join(MODES)}, not {mode!r}")
    _chosen_mode = mode


def mode() -> str:
    if _chosen_mode is not None:
        return _chosen_mode
    from djperf import conf

    setting = conf.get("RECORD_MODE")
    if setting is not None:
        return str(setting)
    return "none" if os.environ.get("CI") else "once"


def target_for(test_file: str | os.PathLike[str], key: str) -> Target:
    """The record file beside `test_file` (``test_x.py`` -> ``test_x.perf.yml``)."""
    path = Path(test_file)
    return Target(path.with_name(path.stem + SUFFIX), key)


# -- operations -------------------------------------------------------------------


@dataclass
class Operations:
    """A block's operations in order, and the line each one came from."""

    names: list[str] = field(default_factory=list)
    sites: list[Location | None] = field(default_factory=list)

    def add(self, name: str, site: Location | None) -> None:
        self.names.append(name)
        self.sites.append(site)


def operations(rec: Recording) -> Operations:
    """The recording's statements, cache commands and HTTP calls, in the order they started."""
    events: list[tuple[float, str, Location | None]] = []
    for query in rec.queries:
        if is_transaction(query.fingerprint):
            continue
        on = "" if query.alias == "default" else f"[{query.alias}]"
        events.append((query.started, f"db{on}: {query.fingerprint}", query.location))
    for call in rec.cache_calls:
        backend = call.backend.removeprefix("cache:")
        key = f" {call.key}" if call.key is not None else ""
        events.append((call.started, f"cache: {backend} {call.command}{key}", call.location))
    for request in rec.http_calls:
        name = f"http: {request.method} {url_template(request.url)}"
        events.append((request.started, name, request.location))
    events.sort(key=lambda event: event[0])
    found = Operations()
    for _, name, site in events:
        found.add(name, site)
    return found


# -- files ------------------------------------------------------------------------

_thread_lock = threading.Lock()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time for `path`, across threads and processes (xdist
    workers, --parallel): a lock file (POSIX; elsewhere threads only)."""
    with _thread_lock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        # In the temporary directory, named after the file: nothing left
        # beside the records to be committed by mistake.
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
        with open(Path(tempfile.gettempdir()) / f"djperf-record-{digest}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise RecordError(
            "djperf's performance records need PyYAML: pip install 'djperf[records]'"
        ) from None
    return yaml


def read(path: Path) -> dict[str, list[str]] | None:
    """The records of `path`, or None when there is no such file."""
    if not path.is_file():
        return None
    data = _yaml().safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise RecordError(f"{path}: not a djperf record file (a mapping of test to operations)")
    return {str(key): [str(op) for op in value or ()] for key, value in data.items()}


def write(path: Path, changes: dict[str, list[str] | None]) -> None:
    """Set (or, with None, remove) records of `path`, under the lock; the
    file is removed when no record is left."""
    yaml = _yaml()
    with _locked(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        records = read(path) or {}
        for key, names in changes.items():
            if names is None:
                records.pop(key, None)
            else:
                records[key] = names
        if not records:
            path.unlink(missing_ok=True)
            return
        text = yaml.safe_dump(records, sort_keys=True, default_flow_style=False, width=10_000)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)


# -- the check --------------------------------------------------------------------


def check(target: Target, found: Operations, chosen: str | None = None) -> None:
    """Compare `found` with the record of `target`, writing it as the mode
    says; raise RecordError with a readable diff on a mismatch."""
    __tracebackhide__ = True
    record_mode = chosen or mode()
    records = read(target.path)
    existing = None if records is None else records.get(target.key)
    where = f"{_shown(target.path)}, {target.key}"
    if existing is None:
        if record_mode == "none":
            raise RecordError(
                f"djperf: no performance record for {where} (record mode none, the default "
                "when CI is set: write it with --djperf-record=once on your machine and "
                "commit it)"
            )
        write(target.path, {target.key: found.names})
        return
    if existing == found.names:
        return
    if record_mode in ("all", "overwrite"):
        write(target.path, {target.key: found.names})
    if record_mode != "overwrite":
        raise RecordError(_diff(where, existing, found, written=record_mode == "all"))


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive
        return str(path)


def _diff(where: str, recorded: list[str], found: Operations, *, written: bool) -> str:
    lines = [
        wrapped(
            f"djperf: the block's operations differ from its performance record ({where}); "
            "- recorded, + now:"
        )
    ]
    matcher = difflib.SequenceMatcher(a=recorded, b=found.names, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            kept = recorded[a1:a2]
            if len(kept) > 2:
                lines.append(f"    {_op(kept[0])}")
                lines.append(f"    ... {len(kept) - 2} more the same")
                lines.append(f"    {_op(kept[-1])}")
            else:
                lines += [f"    {_op(op)}" for op in kept]
            continue
        lines += [f"  - {_op(op)}" for op in recorded[a1:a2]]
        for index in range(b1, b2):
            site = found.sites[index]
            lines.append(f"  + {_op(found.names[index])}")
            if site is not None:
                lines.append(f"      from {site}  {site.function}")
    lines.append(
        wrapped(
            "The new record is written (record mode all): review it."
            if written
            else "Change the code back, or accept the new record: --djperf-record=overwrite "
            "(or delete the test's record)."
        )
    )
    return "\n".join(lines)


def _op(name: str) -> str:
    kind, _, text = name.partition(": ")
    return f"{kind}: {short_sql(text, 72)}" if kind.startswith("db") else name


def files_under(places: Iterable[Path]) -> list[Path]:
    """The record files under `places` (directories, or test modules)."""
    found: set[Path] = set()
    for place in places:
        if place.is_dir():
            found.update(p for p in place.rglob(f"*{SUFFIX}") if ".venv" not in p.parts)
        else:
            record_file = place.with_name(place.stem + SUFFIX)
            if record_file.is_file():
                found.add(record_file)
    return sorted(found)


def prune(files: Iterable[Path]) -> list[tuple[Path, str]]:
    """Remove from `files` the records of tests that no longer exist; what was
    removed. A test exists while its module defines it: its function, or its
    class and method (a class whose method is not in the module's source may
    inherit it: its records are kept). Parametrize ids are not checked."""
    removed = []
    for path in files:
        records = read(path)
        if records is None:
            continue
        module = path.with_name(path.name[: -len(SUFFIX)] + ".py")
        names = _defined(module)
        stale = [key for key in records if not _exists(_test_of(key), names)]
        if stale:
            write(path, dict.fromkeys(stale))
            removed += [(path, key) for key in stale]
    return removed


class _Defined:
    """What a test module defines: functions, and classes with their methods."""

    def __init__(self, tree: ast.Module | None) -> None:
        self.functions: set[str] = set()
        self.classes: dict[str, tuple[set[str], bool]] = {}  # name -> (methods, has bases)
        for node in tree.body if tree is not None else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.add(node.name)
            elif isinstance(node, ast.ClassDef):
                methods = {
                    item.name
                    for item in node.body
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                }
                self.classes[node.name] = (methods, bool(node.bases))


def _defined(module: Path) -> _Defined:
    try:
        return _Defined(ast.parse(module.read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError):
        return _Defined(None)  # no module (or none Python can read): every record is stale


def _exists(test: str, defined: _Defined) -> bool:
    name = test.split("[", 1)[0]
    parts = name.replace("::", ".").split(".")
    if len(parts) == 1:
        return parts[0] in defined.functions
    cls = defined.classes.get(parts[0])
    if cls is None:
        return False
    methods, has_bases = cls
    return parts[1] in methods or has_bases


def _test_of(key: str) -> str:
    """A record key's test: the second record of a test is "test_x.2"."""
    base, dot, number = key.rpartition(".")
    return base if dot and number.isdigit() else key


# -- the context manager -----------------------------------------------------------


class record:
    """Compare what the block asks with the record beside the test (see the
    module's docstring). Inside a test run by the djperf plugin or runner,
    the test is found by itself; otherwise pass ``target``."""

    def __init__(self, target: Target | None = None, *, mode: str | None = None) -> None:
        if mode is not None and mode not in MODES:
            raise ValueError(f"record mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.target = target
        self.mode = mode
        self._capture: capture | None = None

    def __enter__(self) -> record:
        if self.target is None:
            self.target = _current_target()
        from djperf._capture import capture

        self._capture = capture(detectors=[], max_memory_mb=None)
        self._capture.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        __tracebackhide__ = True
        assert self._capture is not None and self._capture.recording is not None
        self._capture.__exit__(exc_type, exc, tb)
        if exc_type is not None:
            return
        assert self.target is not None
        check(self.target, operations(self._capture.recording), self.mode)


class Numbering:
    """One test's record keys: the second record() of a test is "key.2"."""

    def __init__(self) -> None:
        self.counts: dict[Target, int] = {}

    def next(self, target: Target) -> Target:
        count = self.counts[target] = self.counts.get(target, 0) + 1
        return target if count == 1 else Target(target.path, f"{target.key}.{count}")


_numbering: ContextVar[Numbering | None] = ContextVar("djperf_record_numbers", default=None)


def _current_target() -> Target:
    current = CURRENT_TEST.get()
    if current is None:
        raise RecordError(
            "djperf: record() does not know the test it is in: use the djperf fixture's "
            "record(), DjperfTestCaseMixin.record(), or pass a Target"
        )
    return numbered(current())


def numbered(target: Target) -> Target:
    """`target`, or "key.2" for the test's second record() block (counted per
    test: the plugin and the runner start each test's count afresh)."""
    numbering = _numbering.get()
    if numbering is None:
        numbering = Numbering()
        _numbering.set(numbering)
    return numbering.next(target)


def test_started(target: Callable[[], Target] | None) -> None:
    """The plugin or runner: the test now running (a callable giving its Target).
    The count of its record() blocks starts here, shared by every context
    the test's code copies (an event loop, a thread)."""
    CURRENT_TEST.set(target)
    _numbering.set(Numbering())


def pytest_key(nodeid: str) -> str:
    """A pytest test's key in its module's record file: its node id after the file."""
    return nodeid.split("::", 1)[1] if "::" in nodeid else nodeid


def unittest_key(test: Any) -> str:
    """A unittest test's key: ``ClassName.test_method``."""
    return f"{type(test).__name__}.{getattr(test, '_testMethodName', 'runTest')}"
