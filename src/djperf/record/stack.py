"""Find the line of user code that caused an event.

User code is any frame whose file is not in Django, djperf, asgiref, the
standard library, site-packages or DJPERF["LIBRARY_PATHS"]; files under
DJPERF["USER_PATHS"] are user code wherever they are installed. The verdict is
cached per file name, so a walk costs one dictionary lookup per frame.

In async code, Django runs the ORM in a worker thread through asgiref's
``sync_to_async``; that thread's stack holds no user code. The hook in
``hooks/threads.py`` records the awaiting user line before the hop in
`ASYNC_CALL_SITE`, and the walk falls back to it.

Test code is user code whose path matches DJPERF["TEST_PATHS"] (by default
tests/ directories, test_*.py, *_test.py, *_tests.py, tests.py, conftest.py).
Outside a request, an event also gets its `Drive` (work.py): the call that
the innermost test frame made, found by walking on past the user line.
"""

from __future__ import annotations

import linecache
import os
import sys
import sysconfig
from contextvars import ContextVar
from fnmatch import fnmatch
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

from djperf import conf
from djperf.findings import Location
from djperf.record.work import Drive, next_serial

# The user line that awaited a sync_to_async() call, for code running in the
# worker thread. Set only while a capture is active.
ASYNC_CALL_SITE: ContextVar[Location | None] = ContextVar("djperf_async_call_site", default=None)

_NOT_USER = ""
# The djperf package: this file is djperf/record/stack.py.
_DJPERF_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Library files the walk looks into (compared by identity, never shown):
# asgiref's sync.py, where a worker thread's work for an awaiting coroutine
# begins; Django's template engine, whose Node.render_annotated frame knows
# the template line being rendered; the contrib apps whose queries are
# Django's own bookkeeping (sessions, auth's request.user, content types;
# see _bookkeeping_prefixes).
_THREAD_HOP = "<asgiref.sync>"
_TEMPLATE_ENGINE = "<django.template.base>"
_BOOKKEEPING = "<django bookkeeping>"
# Code run by exec() ("<string>"): the user's line only when it is
# `manage.py shell -c "..."`; dataclasses and others generate code so too.
_EXECUTED = "<executed>"
# The requests hook's wrapper around Django's handler: a walk that reaches it
# found no user line inside the request (see _view_location).
_REQUEST_EDGE = "<request edge>"
# A third-party package's file (not Django's, djperf's, asgiref's or the
# standard library's): the walk notes the outermost one below the user line,
# the call the user's code made into that package (Site.via).
_THIRD_PARTY = "<third party>"
_SENTINELS = (_THREAD_HOP, _TEMPLATE_ENGINE, _BOOKKEEPING, _EXECUTED, _REQUEST_EDGE, _THIRD_PARTY)
_REQUESTS_HOOK = os.path.join(_DJPERF_ROOT, "record", "hooks", "requests.py")
# The interactive shells' input ("manage.py shell", IPython, bpython): the
# user's own lines, though they have no file.
_SHELL_INPUTS = ("<console>", "<stdin>", "<input>")
# file name -> path to show (user code) or "" (library code)
_verdicts: dict[str, str] = {}
_library_prefixes: tuple[str, ...] | None = None
_user_prefixes: tuple[str, ...] = ()
_framework_prefixes: tuple[str, ...] = ()
_package_dirs: tuple[str, ...] = ()


def _library_roots() -> tuple[str, ...]:
    import asgiref
    import django

    roots = {
        os.path.dirname(django.__file__),
        _DJPERF_ROOT,
        os.path.dirname(asgiref.__file__),
    }
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            roots.add(paths[key])
    for path in sys.path:
        if path.endswith(("site-packages", "dist-packages")):
            roots.add(path)
    roots.update(conf.library_paths())
    # Resolved and plain spellings: frames report the path they were imported by.
    resolved = {str(Path(r).resolve()) for r in roots}
    return tuple(sorted({r.rstrip(os.sep) + os.sep for r in roots | resolved}))


def _spellings(paths: set[str]) -> tuple[str, ...]:
    """Each directory as imported and resolved, ending with a separator."""
    resolved = {str(Path(p).resolve()) for p in paths}
    return tuple(sorted({p.rstrip(os.sep) + os.sep for p in paths | resolved}))


def _framework_roots() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The framework's directories (Django, djperf, asgiref, the standard
    library) and the directories packages are installed in, which the
    standard library's directory may contain (lib/python3.X/site-packages)."""
    import asgiref
    import django

    paths = sysconfig.get_paths()
    framework = {os.path.dirname(django.__file__), _DJPERF_ROOT, os.path.dirname(asgiref.__file__)}
    framework |= {paths[key] for key in ("stdlib", "platstdlib") if paths.get(key)}
    packages = {paths[key] for key in ("purelib", "platlib") if paths.get(key)}
    packages |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    return _spellings(framework), _spellings(packages)


def _is_framework(filename: str) -> bool:
    if filename.startswith("<"):
        return True
    for prefix in _framework_prefixes:
        if filename.startswith(prefix) and not (
            filename.startswith(_package_dirs) and not prefix.startswith(_package_dirs)
        ):
            return True
    return False


def _classify(filename: str) -> str:
    global _library_prefixes, _user_prefixes, _framework_prefixes, _package_dirs
    if _library_prefixes is None:
        _library_prefixes = _library_roots()
        _user_prefixes = tuple(p.rstrip(os.sep) + os.sep for p in conf.user_paths())
        _framework_prefixes, _package_dirs = _framework_roots()
    if _user_prefixes and filename.startswith(_user_prefixes):
        # A project installed into site-packages (DJPERF["USER_PATHS"]).
        verdict = display_path(filename)
    elif filename in _SHELL_INPUTS or filename.startswith("<ipython-input-"):
        verdict = filename
    elif filename == "<string>":
        verdict = _EXECUTED
    elif filename == _REQUESTS_HOOK:
        verdict = _REQUEST_EDGE
    elif filename == _asgiref_sync_file():
        verdict = _THREAD_HOP
    elif filename == _template_engine_file():
        verdict = _TEMPLATE_ENGINE
    elif filename.startswith(_bookkeeping_prefixes()):
        verdict = _BOOKKEEPING
    elif filename.startswith("<") or filename.startswith(_library_prefixes):
        verdict = _NOT_USER if _is_framework(filename) else _THIRD_PARTY
    else:
        verdict = display_path(filename)
    _verdicts[filename] = verdict
    return verdict


def _asgiref_sync_file() -> str:
    import asgiref.sync

    return asgiref.sync.__file__


def _template_engine_file() -> str:
    import django.template.base

    return django.template.base.__file__


def _bookkeeping_prefixes() -> tuple[str, ...]:
    """Files whose statements are Django's bookkeeping: whole apps for
    sessions and content types; for auth, what runs on every request
    (request.user, login, permission checks) and the permissions it creates
    after migrate, not create_user() or its forms and views, which are the
    user's writes like any other; the migration machinery (a test may run
    migrate: schema changes, the table rebuilds of SQLite, the migration
    recorder, and the RunPython functions it runs); the database cache
    backend (cache-in-loop reports its calls)."""
    import django

    root = os.path.dirname(django.__file__)
    contrib = os.path.join(root, "contrib")
    auth = os.path.join(contrib, "auth")
    return (
        os.path.join(contrib, "sessions") + os.sep,
        os.path.join(contrib, "contenttypes") + os.sep,
        os.path.join(auth, "management") + os.sep,
        os.path.join(root, "db", "migrations") + os.sep,
        os.path.join(root, "core", "cache", "backends", "db.py"),
        *(
            os.path.join(auth, name)
            for name in ("__init__.py", "backends.py", "middleware.py", "context_processors.py")
        ),
    )


_render_annotated: Any = None


def _renders_a_node(code: Any) -> bool:
    """Whether `code` is Django's Node.render_annotated, whose frame knows
    the template line being rendered."""
    global _render_annotated
    if _render_annotated is None:
        from django.template.base import Node

        _render_annotated = Node.render_annotated.__code__
    return code is _render_annotated


def _template_location(frame: FrameType) -> tuple[Location | None, bool]:
    """The template file and line a Node.render_annotated frame is rendering,
    and whether the template is a library's (a third-party app's or Django's)."""
    node = frame.f_locals.get("self")
    token = getattr(node, "token", None)
    origin = getattr(node, "origin", None)
    line = getattr(token, "lineno", None)
    if token is None or origin is None or line is None:
        return None, False
    contents = " ".join(str(token.contents).split())
    if len(contents) > 60:
        contents = contents[:57] + "..."
    kind = getattr(getattr(token, "token_type", None), "name", "")
    tag = f"{{{{ {contents} }}}}" if kind == "VAR" else f"{{% {contents} %}}"
    name = str(getattr(origin, "name", "") or "<template>")
    if not os.path.isabs(name):
        return Location(name, int(line), tag), False
    verdict = _verdicts.get(name)
    if verdict is None:
        verdict = _classify(name)
    return Location(display_path(name), int(line), tag), not verdict or verdict is _THIRD_PARTY


_passes_on: dict[tuple[Any, int], bool] = {}


def _passes_request_on(frame: FrameType) -> bool:
    """Whether the user line only hands the request on, as a middleware's
    ``return self.get_response(request)`` does: it is not where the work is."""
    code = frame.f_code
    if "get_response" not in code.co_names:
        return False
    key = (code, frame.f_lineno)
    verdict = _passes_on.get(key)
    if verdict is None:
        text = linecache.getline(code.co_filename, frame.f_lineno)
        verdict = _passes_on[key] = "get_response(" in text
    return verdict


def _from_shell_command(frame: FrameType) -> bool:
    """Whether this exec'd code is `manage.py shell -c "..."`'s."""
    caller = frame.f_back
    return caller is not None and caller.f_code.co_filename.endswith(
        os.path.join("management", "commands", "shell.py")
    )


# -- test code -------------------------------------------------------------------

DEFAULT_TEST_PATHS = (
    "tests/*",
    "*/tests/*",
    "test/*",
    "*/test/*",
    "test_*.py",
    "*/test_*.py",
    "*_test.py",
    "*_tests.py",
    "tests.py",
    "*/tests.py",
    "conftest.py",
    "*/conftest.py",
)
# file name -> whether it is test code
_test_files: dict[str, bool] = {}
# path as locations show it -> whether it is test code
_test_paths: dict[str, bool] = {}
# Frames the walk looks through for the test code behind an event: deep
# enough for a factory's save that runs a receiver that reindexes a search
# engine (oscar's suite goes past 64 frames there, and a lost drive merges
# the test's calls into one, as if the application repeated).
_DRIVE_DEPTH = 400
_in_test_run = False


def is_test_path(path: str) -> bool:
    """Whether the file at `path` (as locations show it) is test code."""
    found = _test_paths.get(path)
    if found is None:
        patterns = conf.get("TEST_PATHS") or DEFAULT_TEST_PATHS
        found = _test_paths[path] = any(fnmatch(path, pattern) for pattern in patterns)
    return found


def _is_test_file(filename: str) -> bool:
    found = _test_files.get(filename)
    if found is None:
        verdict = _verdicts.get(filename)
        if verdict is None:
            verdict = _classify(filename)
        found = _test_files[filename] = (
            bool(verdict) and verdict not in _SENTINELS and is_test_path(verdict)
        )
    return found


def _testing() -> bool:
    """Whether a test runner (pytest, Django's) is loaded: the walk for test
    code behind an event is made only then, and costs nothing elsewhere."""
    global _in_test_run
    if not _in_test_run:
        modules = sys.modules
        _in_test_run = "pytest" in modules or "django.test.runner" in modules
    return _in_test_run


def _drive(frame: FrameType, inner: FrameType | None) -> Drive | None:
    """The call that the innermost test frame at or outside `frame` made:
    the frame just inside the test frame, marked with a Drive that every
    event of the same call finds again."""
    if not _testing():
        return None
    callee = inner
    current: FrameType | None = frame
    for _ in range(_DRIVE_DEPTH):
        if current is None:
            return None
        if _is_test_file(current.f_code.co_filename):
            if callee is None:
                return None
            here = Location(
                _verdicts[current.f_code.co_filename], current.f_lineno, current.f_code.co_name
            )
            return _drive_of(callee, here)
        callee = current
        current = current.f_back
    return None


def _drive_of(callee: FrameType, location: Location) -> Drive:
    # The mark lives on the callee's frame and dies with it: the next call,
    # even on a frame at the same address, has none yet. f_trace is read only
    # by a trace function (sys.settrace), so it is used only when none is set;
    # under a tracer (coverage's C tracer, a debugger) calls cannot be told
    # apart, and every event of the line shares one drive.
    mark = callee.f_trace
    if type(mark) is Drive:
        return mark
    if mark is None and sys.gettrace() is None:
        drive = Drive(location, next_serial())
        callee.f_trace = drive
        return drive
    return Drive(location, None)


# (path, line, function) -> its Location: the events of one line share one
# rather than each holding its own. Bounded, and cleared when full.
_locations: dict[tuple[str, int, str], Location] = {}
_LOCATIONS = 65536


def _location(path: str, line: int, function: str) -> Location:
    key = (path, line, function)
    found = _locations.get(key)
    if found is None:
        if len(_locations) >= _LOCATIONS:
            _locations.clear()
        found = _locations[key] = Location(path, line, function)
    return found


def display_path(filename: str) -> str:
    """`filename` relative to the project root when it is inside it."""
    root = str(conf.root())
    absolute = os.path.abspath(filename)
    if absolute.startswith(root + os.sep):
        return absolute[len(root) + 1 :]
    return absolute


def reset() -> None:
    """Forget cached verdicts (the DJPERF setting or the root changed)."""
    global _library_prefixes
    _verdicts.clear()
    _test_files.clear()
    _test_paths.clear()
    _locations.clear()
    _library_prefixes = None


conf.on_change(reset)


def same_way_out(frame: FrameType, anchor: FrameType) -> bool:
    """Whether a walk from `frame` finds what a walk from `anchor` found:
    `anchor` is on `frame`'s stack, and every frame before it is library code
    that leaves a walk's result as it was (Django's, djperf's, the standard
    library's; no user line, third-party package, template or bookkeeping
    app). A statement run by a queryset evaluation shares the evaluation's
    walk this way, rather than walking out to the test again."""
    verdicts = _verdicts
    current: FrameType | None = frame
    while current is not None:
        if current is anchor:
            return True
        filename = current.f_code.co_filename
        path = verdicts.get(filename)
        if path is None:
            path = _classify(filename)
        if path:
            return False
        current = current.f_back
    return False


def user_location(frame: FrameType | None = None) -> Location | None:
    """The innermost line of user code that led here (see `locate`)."""
    return locate(sys._getframe(1) if frame is None else frame).location


def user_site(
    frame: FrameType | None = None, *, drive: bool = True
) -> tuple[Location | None, Drive | None]:
    """The innermost user line that led here and, with `drive`, the call from
    test code behind it (see `locate`)."""
    site = locate(sys._getframe(1) if frame is None else frame, drive=drive)
    return site.location, site.drive


class Site(NamedTuple):
    """Where an event came from in the user's code (see `locate`)."""

    location: Location | None
    # The walk passed through Django's bookkeeping (sessions, auth, migrations ...).
    bookkeeping: bool = False
    # The call from test code behind it, when asked for and in a test.
    drive: Drive | None = None
    # The third-party package the user line called into, if any ("sorl").
    via: str | None = None
    # The user line that called the function of `location`, when asked for.
    caller: Location | None = None
    # With `via`: the one call the user line made into that package, a serial
    # number (None when djperf could not tell calls apart). Events of one
    # call share it: work a library repeats inside a single call of the
    # user's is the library's own, not a loop of the user's.
    library_call: int | None = None
    # With `caller`, the user lines further out, innermost first (the line
    # that called the caller's function, and so on): where the loop that
    # repeats a call several functions deep is (see `_user_lines`).
    outer: tuple[Location, ...] = ()
    # With `caller`: the index into (location, caller, *outer) of the first
    # line whose function Django ran inside a signal's send() or a model's
    # save_base() (a post_save receiver, a field's pre_save) rather than the
    # next line calling it; None when the walk crossed none.
    sent: int | None = None
    # With `caller`: bit i set when the function of line i of (location,
    # caller, *outer) was reached from line i + 1 through frames not of the
    # project (Django's, a library's, the standard library's): a widget's
    # get_context() under a template's {{ field }}, a mapping's __iter__
    # under Django's reverse(). See `_user_lines`.
    crossed: int = 0


def locate(frame: FrameType, *, drive: bool = False, caller: bool = False) -> Site:
    """The innermost user line on the stack from `frame`, whether the walk
    passed through Django's bookkeeping apps on the way, with `drive` the
    call from test code behind it (None outside tests), the third-party
    library the user line called into, if the event came through one
    ("sorl" for sorl-thumbnail's queries; not Django, not the standard
    library; the outermost third-party frame below the user line, even
    under a frame of Django's, as taggit's save_form_data under a ModelForm's
    save_m2m) and that call's serial number, and with `caller` the next user
    line outward (the line that called the function the first one is in).

    The user line is a template's file and line when a template is being
    rendered between here and the user's code (a project's template, not a
    third-party app's that it includes), and the awaiting line (the async
    call site) when the stack holds no user code. A line that only hands the
    request on (a middleware's ``self.get_response(request)``) is not it.
    A walk that reaches asgiref's ``thread_handler`` stops there: the frames
    below it are whatever the worker thread was doing before (for
    thread-sensitive calls under async_to_sync, the sync caller blocked on
    the event loop), not the code that awaited this work.
    """
    verdicts = _verdicts
    bookkeeping = False
    # A third-party template's line: the location only if no user line is found.
    library_template: Location | None = None
    # The outermost third-party frame so far: the call into that package.
    outer: FrameType | None = None
    served = False  # the walk has left a request's handler
    inner: FrameType | None = None
    current: FrameType | None = frame
    while current is not None:
        code = current.f_code
        path = verdicts.get(code.co_filename)
        if path is None:
            path = _classify(code.co_filename)
        if path:
            if path not in _SENTINELS:
                if not _passes_request_on(current):
                    here = _location(path, current.f_lineno, code.co_name)
                    via, call = _library_call(outer, here)
                    lines, sent, crossed = _user_lines(current.f_back) if caller else ((), None, 0)
                    return Site(
                        here,
                        bookkeeping,
                        _drive(current, inner) if drive else None,
                        via,
                        lines[0] if lines else None,
                        call,
                        lines[1:],
                        sent,
                        crossed,
                    )
            elif path is _THIRD_PARTY:
                if not served:
                    outer = current
            elif path is _BOOKKEEPING:
                bookkeeping = True
            elif path is _TEMPLATE_ENGINE:
                if _renders_a_node(code):
                    rendered, third_party = _template_location(current)
                    if rendered is not None and not third_party:
                        found = _drive(current, inner) if drive else None
                        # A third-party tag's node ({% thumbnail %}): one render is one call.
                        via, call = _library_call(outer, rendered)
                        return Site(rendered, bookkeeping, found, via, None, call)
                    if library_template is None:
                        library_template = rendered
            elif path is _EXECUTED:
                if _from_shell_command(current):
                    return Site(Location("<string>", current.f_lineno, code.co_name), bookkeeping)
            elif path is _REQUEST_EDGE:
                view = _view_location(frame, current)
                if view is not None:
                    return Site(view, bookkeeping)
                # Past the handler: a third-party middleware inside only handed
                # the request on, and a test client outside (WebTest) makes
                # requests, not calls whose inside is a package's own work.
                outer = None
                served = True
            elif code.co_name == "thread_handler":
                break
        inner = current
        current = current.f_back
    return Site(library_template or ASYNC_CALL_SITE.get(), bookkeeping)


# -- the view of a request with no user line on the stack -------------------------

_view_phase: Any = None
# view callable -> its location, or None when it is a library's
_view_locations: dict[Any, Location | None] = {}


def _view_location(frame: FrameType, edge: FrameType) -> Location | None:
    """The project's view that served the request, when the event came from
    the view's part of the request and no user line is on the stack inside
    it: a generic class-based view (a Django ListView, a REST framework
    ViewSet with only attributes) or a library's view function given a
    project's class. The test line outside the request is not where the work
    is; the view's class (or function) is where its queryset is set."""
    global _view_phase
    if _view_phase is None:
        from django.core.handlers.base import BaseHandler

        # (Private methods of Django's handler; stubs do not list them.)
        _view_phase = tuple(
            getattr(BaseHandler, name).__code__ for name in ("_get_response", "_get_response_async")
        )
    # Middleware's own work (before and after the view) is not the view's.
    current: FrameType | None = frame
    while current is not None and current is not edge:
        if current.f_code in _view_phase:
            break
        current = current.f_back
    else:
        return None
    match = getattr(edge.f_locals.get("request"), "resolver_match", None)
    view = getattr(match, "func", None)
    if view is None:
        return None
    try:
        found = _view_locations[view]
    except KeyError:
        found = _view_locations[view] = _where_defined(view)
    except TypeError:  # an unhashable callable
        found = _where_defined(view)
    return found


def _where_defined(view: Any) -> Location | None:
    import inspect

    # Django's View.as_view() keeps the class as view_class, REST framework's
    # ViewSetMixin.as_view() as cls; a decorated function is unwrapped.
    target = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if target is None:
        target = inspect.unwrap(view)
    try:
        filename = inspect.getsourcefile(target)
        line = inspect.getsourcelines(target)[1]
    except (OSError, TypeError):
        return None
    if not filename or not is_user_file(filename):
        return None
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", "view")
    return Location(_verdicts[filename], line, str(name))


# Frames the walk looks through for the lines that called the user's
# function, and how many of those lines it keeps: enough for a loop a few
# helpers out (an importer's row loop, a per-line hook of an order's
# placement), without paying for the whole stack of a test run.
_CALLER_DEPTH = 64
_CALLERS_KEPT = 6


def _user_lines(frame: FrameType | None) -> tuple[tuple[Location, ...], int | None, int]:
    """The user lines at or outside `frame`, innermost first: up to
    `_CALLERS_KEPT`, ending at the request's handler (outside it a request
    was made, not a call), at a line of test code (kept: the test's call),
    or at a project template being rendered (kept: the template's line; the
    view that rendered it is no caller of the code the template ran). And
    how many of them were found before the walk crossed a signal's send()
    or a save_base() (Site.sent), or None. And which of them had their
    function reached through frames not of the project (Site.crossed)."""
    found: list[Location] = []
    sent: int | None = None
    crossed = 0
    # Whether a frame not of the project was passed since the last user line.
    skipped = False
    current = frame
    for _ in range(_CALLER_DEPTH):
        if current is None:
            break
        code = current.f_code
        if sent is None and code in _SENDS:
            sent = len(found)
        path = _verdicts.get(code.co_filename)
        if path is None:
            path = _classify(code.co_filename)
        if path is _REQUEST_EDGE:
            break
        if path is _TEMPLATE_ENGINE:
            if _renders_a_node(code):
                rendered, third_party = _template_location(current)
                if rendered is not None and not third_party:
                    if skipped:
                        crossed |= 1 << len(found)
                    found.append(rendered)
                    break
            skipped = True
        elif path and path not in _SENTINELS and not _passes_request_on(current):
            if skipped:
                crossed |= 1 << len(found)
                skipped = False
            found.append(_location(path, current.f_lineno, code.co_name))
            if len(found) == _CALLERS_KEPT or _is_test_file(code.co_filename):
                break
        else:
            skipped = True
        current = current.f_back
    return tuple(found), sent, crossed


def _send_codes() -> frozenset[Any]:
    """The code of Django's Signal.send(), send_robust() (and their async
    forms) and Model.save_base(): a user function run from one of them
    runs once per signal or save, not because the next user line called it."""
    from django.db.models import Model
    from django.dispatch import Signal

    functions = [getattr(Signal, name, None) for name in _SEND_METHODS]
    functions.append(Model.save_base)
    # (djperf's own wrapper around save_base keeps the original inside it.)
    functions += [getattr(function, "__wrapped__", None) for function in functions]
    return frozenset(f.__code__ for f in functions if f is not None and hasattr(f, "__code__"))


_SEND_METHODS = ("send", "send_robust", "asend", "asend_robust")
_SENDS = _send_codes()


# Top-level packages whose code is the framework's, not a third party's.
_FRAMEWORK = frozenset({"django", "djperf", "asgiref"}) | frozenset(sys.stdlib_module_names)


def _library_call(outer: FrameType | None, here: Location) -> tuple[str | None, int | None]:
    """The third-party package the user line called into and that call's
    serial number (marked on the package's outermost frame, like a Drive)."""
    via = _package_of(outer)
    if via is None or outer is None:
        return None, None
    return via, _drive_of(outer, here).serial


def _package_of(frame: FrameType | None) -> str | None:
    """The top-level package of a third-party frame's module ("sorl"), or None."""
    if frame is None:
        return None
    top = str(frame.f_globals.get("__name__", "")).partition(".")[0]
    return top if top and top not in _FRAMEWORK else None


def is_user_file(filename: str) -> bool:
    path = _verdicts.get(filename)
    if path is None:
        path = _classify(filename)
    return bool(path) and path not in _SENTINELS
