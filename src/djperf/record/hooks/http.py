"""Outbound HTTP calls, with the timeout that was actually in force.

One wrapper per library, at the method every request of that library goes
through: ``requests.Session.send``, ``httpx.Client.send`` and
``httpx.AsyncClient.send``, urllib3's ``HTTPConnectionPool.urlopen``, and
``urllib.request.OpenerDirector.open`` (behind ``urlopen``). A library that is
not installed is skipped. A call made inside another one (requests runs on
urllib3; urllib3's PoolManager follows redirects through its pools) is
recorded once, by the outermost library, with the timeout the innermost one
actually used: a requests adapter that sets a default timeout is seen.

"The timeout in force" bounds the wait for the response: a total timeout,
or the read timeout. A call with a connect timeout alone can still wait
forever for a slow server, so it has none.

The URL is kept without its query string and credentials unless the capture
asked for parameters; ``url_key`` tells identical URLs apart without keeping
them.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from djperf._errors import contain
from djperf.record.events import HttpCall, http_call_shape
from djperf.record.hooks._patch import Patches
from djperf.record.scope import Recording, active, stacks_wanted
from djperf.record.stack import is_user_file, user_site
from djperf.record.work import REQUEST

_patches = Patches()
# The call being made in this context: a call inside it is the same call.
_CURRENT: ContextVar[_Call | None] = ContextVar("djperf_http_call", default=None)


def _task() -> tuple[int, bool]:
    """The asyncio task or, outside one, the thread making a call, and which."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return (id(task), True) if task is not None else (threading.get_ident(), False)


def _shown_url(url: Any, full: bool) -> str:
    text = str(url)
    if full:
        return text
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return text.split("?", 1)[0]


def _largest(*values: Any) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, int | float) and v > 0]
    return max(numbers) if numbers else None


def _bounded(read: Any, *others: Any, total: Any = None) -> float | None:
    """The longest a call can wait: `total` if set, else the read timeout
    (with the others, connect ...), or None when reading is unbounded."""
    if isinstance(total, int | float) and total > 0:
        return float(total)
    if not (isinstance(read, int | float) and read > 0):
        return None
    return _largest(read, *others)


class _Call:
    """Times one call and records it."""

    def __init__(
        self,
        scopes: tuple[Recording, ...],
        library: str,
        method: str,
        url: Any,
        timeout: float | None,
    ) -> None:
        self.scopes = scopes
        self.library = library
        self.method = method.upper()
        self.url = url
        self.timeout = timeout
        self.request = REQUEST.get()
        self.location, self.drive = (
            user_site(drive=self.request is None) if stacks_wanted(scopes) else (None, None)
        )
        self.task, self.asynchronous = _task()
        self.started = time.perf_counter()
        self.finished = False
        # The wrapper's frame and layer (see holds); set by _begin.
        self.frame: FrameType | None = None
        self.layer = 0

    def holds(self, layer: int, frame: FrameType) -> bool:
        """Whether a call starting at `frame` is part of this one.

        Only in the same thread or task, while this one runs (a task it
        started makes calls of its own). A lower layer (urllib3 under
        requests) is this call, even through user code (an adapter that sets
        a timeout). The same layer (a redirect) is this call unless user code
        stands between them: a response hook calling out makes a call of its own.
        """
        if self.finished or _task()[0] != self.task:
            return False
        if layer < self.layer:
            return True
        current = frame.f_back
        while current is not None and current is not self.frame:
            if is_user_file(current.f_code.co_filename):
                return False
            current = current.f_back
        return True

    def finish(self, status: int | None, error: str | None) -> None:
        self.finished = True
        self.frame = None
        duration = time.perf_counter() - self.started
        full = any(r.options.capture_params for r in self.scopes)
        call = HttpCall(
            library=self.library,
            method=self.method,
            url=_shown_url(self.url, full),
            url_key=hash(str(self.url)),
            timeout=self.timeout,
            started=self.started,
            duration=duration,
            location=self.location,
            task=self.task,
            asynchronous=self.asynchronous,
            status=status,
            error=error,
            request=self.request,
            drive=self.drive,
        )
        for rec in self.scopes:
            if rec.open:
                rec.keep("http_calls", call, http_call_shape)


Describe = Callable[..., tuple[str, Any, float | None]]


def _holds(outer: _Call, layer: int, frame: FrameType) -> bool:
    try:
        return outer.holds(layer, frame)
    except Exception:
        contain("http call")
        return True


def _inner(outer: _Call, describe: Describe | None, args: Any, kwargs: Any) -> None:
    """A call made inside `outer`: it knows the timeout really used."""
    if describe is None:
        return
    try:
        outer.timeout = describe(*args, **kwargs)[2]
    except Exception:
        contain("http call")


def _begin(
    library: str, describe: Describe, args: Any, kwargs: Any, layer: int, frame: FrameType
) -> tuple[_Call | None, Any]:
    """The call to record and the context token, or (None, None) to pass through."""
    scopes = active()
    if not scopes:
        return None, None
    try:
        verb, url, timeout = describe(*args, **kwargs)
        call = _Call(scopes, library, verb, url, timeout)
        call.layer, call.frame = layer, frame
    except Exception:
        contain(f"{library} call")
        return None, None
    return call, _CURRENT.set(call)


def _end(call: _Call, token: Any, status: int | None, error: str | None) -> None:
    _CURRENT.reset(token)
    try:
        call.finish(status, error)
    except Exception:
        contain(f"{call.library} call")


# Layers: a library's entry point above the libraries it calls.
TOP, POOL_MANAGER, CONNECTION_POOL = 3, 2, 1


def _watching(
    library: str,
    describe: Describe,
    status_of: Callable[[Any], int | None],
    *,
    layer: int = TOP,
    resolves_timeout: bool = False,
) -> Callable[[Any], Any]:
    """A sync wrapper recording each call; `describe(*args, **kwargs)` gives
    the method, the URL and the timeout in force. `resolves_timeout`: this
    layer sees the timeout actually used by the layers above it."""

    def wrap(original: Any) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            outer = _CURRENT.get()
            here = sys._getframe()
            if outer is not None and _holds(outer, layer, here):
                _inner(outer, describe if resolves_timeout else None, args, kwargs)
                return original(*args, **kwargs)
            call, token = _begin(library, describe, args, kwargs, layer, here)
            if call is None:
                return original(*args, **kwargs)
            status = error = None
            try:
                response = original(*args, **kwargs)
                status = status_of(response)
                return response
            except BaseException as exc:
                error = type(exc).__name__
                raise
            finally:
                _end(call, token, status, error)

        return method

    return wrap


def _watching_async(
    library: str,
    describe: Describe,
    status_of: Callable[[Any], int | None],
) -> Callable[[Any], Any]:
    def wrap(original: Any) -> Any:
        async def method(*args: Any, **kwargs: Any) -> Any:
            outer = _CURRENT.get()
            here = sys._getframe()
            if outer is not None and _holds(outer, TOP, here):
                return await original(*args, **kwargs)
            call, token = _begin(library, describe, args, kwargs, TOP, here)
            if call is None:
                return await original(*args, **kwargs)
            status = error = None
            try:
                response = await original(*args, **kwargs)
                status = status_of(response)
                return response
            except BaseException as exc:
                error = type(exc).__name__
                raise
            finally:
                _end(call, token, status, error)

        return method

    return wrap


# -- requests -------------------------------------------------------------------


def _requests_timeout(value: Any) -> float | None:
    if isinstance(value, tuple):  # (connect, read)
        connect, read = (*value, None)[:2]
        return _bounded(read, connect)
    if value is not None and hasattr(value, "connect_timeout"):
        return _urllib3_timeout_value(value)
    return _bounded(value)


def _describe_requests(session: Any, request: Any, **kwargs: Any) -> tuple[str, Any, float | None]:
    return str(request.method), request.url, _requests_timeout(kwargs.get("timeout"))


def _status_code(response: Any) -> int | None:
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


# -- httpx ------------------------------------------------------------------------


def _describe_httpx(client: Any, request: Any, **kwargs: Any) -> tuple[str, Any, float | None]:
    timeout = request.extensions.get("timeout")
    if timeout is None:
        # send() gives a request built without one the client's timeout.
        as_dict = getattr(getattr(client, "timeout", None), "as_dict", None)
        timeout = as_dict() if callable(as_dict) else {}
    return (
        str(request.method),
        request.url,
        _bounded(timeout.get("read"), timeout.get("connect"), timeout.get("write")),
    )


# -- urllib3 ----------------------------------------------------------------------


def _urllib3_timeout_value(timeout: Any) -> float | None:
    from urllib3.util.timeout import _DEFAULT_TIMEOUT

    default = socket.getdefaulttimeout()

    def resolved(value: Any) -> Any:
        return default if value is _DEFAULT_TIMEOUT else value

    if hasattr(timeout, "connect_timeout"):
        return _bounded(
            resolved(getattr(timeout, "_read", None)),
            resolved(getattr(timeout, "_connect", None)),
            total=resolved(timeout.total),
        )
    return _bounded(resolved(timeout))


def _describe_urllib3(
    pool: Any, method: str, url: str, *args: Any, **kwargs: Any
) -> tuple[str, Any, float | None]:
    from urllib3.util.timeout import _DEFAULT_TIMEOUT

    # urlopen(method, url, body, headers, retries, redirect, assert_same_host, timeout, ...)
    timeout = kwargs.get("timeout", args[5] if len(args) > 5 else _DEFAULT_TIMEOUT)
    if timeout is _DEFAULT_TIMEOUT:
        timeout = pool.timeout
    full_url = url if "://" in url else f"{pool.scheme}://{pool.host}:{pool.port}{url}"
    return method, full_url, _urllib3_timeout_value(timeout)


def _describe_pool_manager(
    manager: Any, method: str, url: str, *args: Any, **kwargs: Any
) -> tuple[str, Any, float | None]:
    # The connection pool it picks resolves the timeout (see _inner).
    timeout = kwargs.get("timeout", manager.connection_pool_kw.get("timeout"))
    return method, url, None if timeout is None else _urllib3_timeout_value(timeout)


def _urllib3_status(response: Any) -> int | None:
    status = getattr(response, "status", None)
    return status if isinstance(status, int) else None


# -- urllib.request -----------------------------------------------------------------


def _describe_urllib(
    opener: Any, fullurl: Any, data: Any = None, timeout: Any = None, **kwargs: Any
) -> tuple[str, Any, float | None]:
    if isinstance(fullurl, str):
        url, verb = fullurl, "POST" if data is not None else "GET"
    else:
        url, verb = fullurl.full_url, fullurl.get_method()
    if timeout is None or timeout is socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
        timeout = socket.getdefaulttimeout()
    return verb, url, _bounded(timeout)


def _urllib_status(response: Any) -> int | None:
    status = getattr(response, "status", None)
    return status if isinstance(status, int) else None


def install() -> None:
    if _patches:
        return
    try:
        import requests
    except ImportError:
        pass
    else:
        _patches.wrap(
            requests.Session, "send", _watching("requests", _describe_requests, _status_code)
        )
    try:
        import httpx
    except ImportError:
        pass
    else:
        _patches.wrap(httpx.Client, "send", _watching("httpx", _describe_httpx, _status_code))
        _patches.wrap(
            httpx.AsyncClient, "send", _watching_async("httpx", _describe_httpx, _status_code)
        )
    try:
        from urllib3.connectionpool import HTTPConnectionPool
        from urllib3.poolmanager import PoolManager
    except ImportError:
        pass
    else:
        _patches.wrap(
            HTTPConnectionPool,
            "urlopen",
            _watching(
                "urllib3",
                _describe_urllib3,
                _urllib3_status,
                layer=CONNECTION_POOL,
                resolves_timeout=True,
            ),
        )
        # Redirects across hosts go back through the manager: one call.
        _patches.wrap(
            PoolManager,
            "urlopen",
            _watching("urllib3", _describe_pool_manager, _urllib3_status, layer=POOL_MANAGER),
        )
    import urllib.request

    _patches.wrap(
        urllib.request.OpenerDirector,
        "open",
        _watching("urllib", _describe_urllib, _urllib_status),
    )


def uninstall() -> None:
    _patches.undo()
