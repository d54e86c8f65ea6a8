"""Find the line of user code that caused an event.

User code is any frame whose file is not in Django, djperf, asgiref, the
standard library, site-packages or DJPERF["LIBRARY_PATHS"]; files under
DJPERF["USER_PATHS"] are user code wherever they are installed. The verdict is
cached per file name, so a walk costs one dictionary lookup per frame.

In async code, Django runs the ORM in a worker thread through asgiref's
``sync_to_async``; that thread's stack holds no user code. The hook in
``hooks/threads.py`` records the awaiting user line before the hop in
`ASYNC_CALL_SITE`, and the walk falls back to it.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from contextvars import ContextVar
from pathlib import Path
from types import FrameType
from typing import Any

from djperf import conf
from djperf.record.events import Location

# The user line that awaited a sync_to_async() call, for code running in the
# worker thread. Set only while a capture is active.
ASYNC_CALL_SITE: ContextVar[Location | None] = ContextVar("djperf_async_call_site", default=None)

_NOT_USER = ""
# Library files the walk looks into (compared by identity, never shown):
# asgiref's sync.py, where a worker thread's work for an awaiting coroutine
# begins; Django's template engine, whose Node.render_annotated frame knows
# the template line being rendered; the contrib apps whose queries are
# Django's own bookkeeping (sessions, auth's request.user, content types;
# see _bookkeeping_prefixes).
_THREAD_HOP = "<asgiref.sync>"
_TEMPLATE_ENGINE = "<django.template.base>"
_BOOKKEEPING = "<django bookkeeping>"
_SENTINELS = (_THREAD_HOP, _TEMPLATE_ENGINE, _BOOKKEEPING)
# file name -> path to show (user code) or "" (library code)
_verdicts: dict[str, str] = {}
_library_prefixes: tuple[str, ...] | None = None
_user_prefixes: tuple[str, ...] = ()


def _library_roots() -> tuple[str, ...]:
    import asgiref
    import django

    import djperf

    roots = {
        os.path.dirname(django.__file__),
        os.path.dirname(djperf.__file__),
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


def _classify(filename: str) -> str:
    global _library_prefixes, _user_prefixes
    if _library_prefixes is None:
        _library_prefixes = _library_roots()
        _user_prefixes = tuple(p.rstrip(os.sep) + os.sep for p in conf.user_paths())
    if _user_prefixes and filename.startswith(_user_prefixes):
        # A project installed into site-packages (DJPERF["USER_PATHS"]).
        verdict = display_path(filename)
    elif filename == _asgiref_sync_file():
        verdict = _THREAD_HOP
    elif filename == _template_engine_file():
        verdict = _TEMPLATE_ENGINE
    elif filename.startswith(_bookkeeping_prefixes()):
        verdict = _BOOKKEEPING
    elif filename.startswith("<") or filename.startswith(_library_prefixes):
        verdict = _NOT_USER
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
    sessions and content types; for auth, only what runs on every request
    (request.user, login, permission checks), not create_user() or its
    forms and views, which are the user's writes like any other."""
    import django

    contrib = os.path.join(os.path.dirname(django.__file__), "contrib")
    auth = os.path.join(contrib, "auth")
    return (
        os.path.join(contrib, "sessions") + os.sep,
        os.path.join(contrib, "contenttypes") + os.sep,
        *(
            os.path.join(auth, name)
            for name in ("__init__.py", "backends.py", "middleware.py", "context_processors.py")
        ),
    )


_render_annotated: Any = None


def _template_location(frame: FrameType) -> Location | None:
    """The template file and line a Node.render_annotated frame is rendering."""
    node = frame.f_locals.get("self")
    token = getattr(node, "token", None)
    origin = getattr(node, "origin", None)
    line = getattr(token, "lineno", None)
    if token is None or origin is None or line is None:
        return None
    contents = " ".join(str(token.contents).split())
    if len(contents) > 60:
        contents = contents[:57] + "..."
    kind = getattr(getattr(token, "token_type", None), "name", "")
    tag = f"{{{{ {contents} }}}}" if kind == "VAR" else f"{{% {contents} %}}"
    name = str(getattr(origin, "name", "") or "<template>")
    path = display_path(name) if os.path.isabs(name) else name
    return Location(path, int(line), tag)


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
    _library_prefixes = None


conf.on_change(reset)


def user_location(frame: FrameType | None = None) -> Location | None:
    """The innermost line of user code that led here (see `locate`)."""
    return locate(sys._getframe(1) if frame is None else frame)[0]


def locate(frame: FrameType) -> tuple[Location | None, bool]:
    """The innermost user line on the stack from `frame`, and whether the walk
    passed through Django's bookkeeping apps on the way.

    The user line is a template's file and line when a template is being
    rendered between here and the user's code, and the awaiting line (the
    async call site) when the stack holds no user code. A walk that reaches
    asgiref's ``thread_handler`` stops there: the frames below it are whatever
    the worker thread was doing before (for thread-sensitive calls under
    async_to_sync, the sync caller blocked on the event loop), not the code
    that awaited this work.
    """
    global _render_annotated
    verdicts = _verdicts
    bookkeeping = False
    current: FrameType | None = frame
    while current is not None:
        code = current.f_code
        path = verdicts.get(code.co_filename)
        if path is None:
            path = _classify(code.co_filename)
        if path:
            if path not in _SENTINELS:
                return Location(path, current.f_lineno, code.co_name), bookkeeping
            if path is _BOOKKEEPING:
                bookkeeping = True
            elif path is _TEMPLATE_ENGINE:
                if _render_annotated is None:
                    from django.template.base import Node

                    _render_annotated = Node.render_annotated.__code__
                if code is _render_annotated:
                    location = _template_location(current)
                    if location is not None:
                        return location, bookkeeping
            elif code.co_name == "thread_handler":
                break
        current = current.f_back
    return ASYNC_CALL_SITE.get(), bookkeeping


def is_user_file(filename: str) -> bool:
    path = _verdicts.get(filename)
    if path is None:
        path = _classify(filename)
    return bool(path) and path not in _SENTINELS
