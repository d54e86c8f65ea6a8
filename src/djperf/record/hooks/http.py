"""Outbound HTTP calls, with the timeout that was actually in force.

One wrapper per library, at the method every request of that library goes
through: ``requests.Session.send``, ``httpx.Client.send`` and
``httpx.AsyncClient.send``, urllib3's ``HTTPConnectionPool.urlopen``, and
``urllib.request.OpenerDirector.open`` (behind ``urlopen``). A library that is
not installed is skipped. A call made inside another one (requests runs on
urllib3; urllib3 retries and redirects recursively) is recorded once, by the
outermost library.

The URL is kept without its query string and credentials unless the capture
asked for parameters; ``url_key`` tells identical URLs apart without keeping
them.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from djperf.record.events import HttpCall
from djperf.record.hooks._patch import Patches
from djperf.record.recorder import ACTIVE, Recording, contain, live
from djperf.record.stack import user_location

_patches = Patches()
_IN_CALL: ContextVar[bool] = ContextVar("djperf_in_http_call", default=False)


def _active() -> tuple[Recording, ...]:
    scopes = ACTIVE.get()
    if scopes and not scopes[-1].open:
        return live(scopes)
    return scopes


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


class _Call:
    """Times one call and records it, unless it is nested in another one."""

    def __init__(self, scopes: tuple[Recording, ...], library: str, method: str, url: Any) -> None:
        self.scopes = scopes
        self.library = library
        self.method = method.upper()
        self.url = url
        self.location = user_location() if any(r.options.stacks for r in scopes) else None
        self.task, self.asynchronous = _task()
        self.started = time.perf_counter()

    def finish(self, timeout: float | None, status: int | None, error: str | None) -> None:
        duration = time.perf_counter() - self.started
        full = any(r.options.capture_params for r in self.scopes)
        call = HttpCall(
            library=self.library,
            method=self.method,
            url=_shown_url(self.url, full),
            url_key=hash(str(self.url)),
            timeout=timeout,
            started=self.started,
            duration=duration,
            location=self.location,
            task=self.task,
            asynchronous=self.asynchronous,
            status=status,
            error=error,
        )
        for rec in self.scopes:
            if rec.open:
                rec.http_calls.append(call)


def _watching(
    library: str,
    describe: Callable[..., tuple[str, Any, float | None]],
    status_of: Callable[[Any], int | None],
) -> Callable[[Any], Any]:
    """A sync wrapper recording each call; `describe(*args, **kwargs)` gives
    the method, the URL and the timeout in force."""

    def wrap(original: Any) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            scopes = _active()
            if not scopes or _IN_CALL.get():
                return original(*args, **kwargs)
            try:
                verb, url, timeout = describe(*args, **kwargs)
                call = _Call(scopes, library, verb, url)
            except Exception:
                contain(f"{library} call")
                return original(*args, **kwargs)
            token = _IN_CALL.set(True)
            status = error = None
            try:
                response = original(*args, **kwargs)
                status = status_of(response)
                return response
            except BaseException as exc:
                error = type(exc).__name__
                raise
            finally:
                _IN_CALL.reset(token)
                try:
                    call.finish(timeout, status, error)
                except Exception:
                    contain(f"{library} call")

        return method

    return wrap


def _watching_async(
    library: str,
    describe: Callable[..., tuple[str, Any, float | None]],
    status_of: Callable[[Any], int | None],
) -> Callable[[Any], Any]:
    def wrap(original: Any) -> Any:
        async def method(*args: Any, **kwargs: Any) -> Any:
            scopes = _active()
            if not scopes or _IN_CALL.get():
                return await original(*args, **kwargs)
            try:
                verb, url, timeout = describe(*args, **kwargs)
                call = _Call(scopes, library, verb, url)
            except Exception:
                contain(f"{library} call")
                return await original(*args, **kwargs)
            token = _IN_CALL.set(True)
            status = error = None
            try:
                response = await original(*args, **kwargs)
                status = status_of(response)
                return response
            except BaseException as exc:
                error = type(exc).__name__
                raise
            finally:
                _IN_CALL.reset(token)
                try:
                    call.finish(timeout, status, error)
                except Exception:
                    contain(f"{library} call")

        return method

    return wrap


# -- requests -------------------------------------------------------------------


def _requests_timeout(value: Any) -> float | None:
    if isinstance(value, tuple):
        return _largest(*value)
    if value is not None and hasattr(value, "connect_timeout"):
        return _urllib3_timeout_value(value)
    return _largest(value)


def _describe_requests(session: Any, request: Any, **kwargs: Any) -> tuple[str, Any, float | None]:
    return str(request.method), request.url, _requests_timeout(kwargs.get("timeout"))


def _status_code(response: Any) -> int | None:
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


# -- httpx ------------------------------------------------------------------------


def _describe_httpx(client: Any, request: Any, **kwargs: Any) -> tuple[str, Any, float | None]:
    timeout = request.extensions.get("timeout") or {}
    return (
        str(request.method),
        request.url,
        _largest(*(timeout.get(k) for k in ("connect", "read", "write", "pool"))),
    )


# -- urllib3 ----------------------------------------------------------------------


def _urllib3_timeout_value(timeout: Any) -> float | None:
    from urllib3.util.timeout import _DEFAULT_TIMEOUT

    default = socket.getdefaulttimeout()

    def resolved(value: Any) -> Any:
        return default if value is _DEFAULT_TIMEOUT else value

    if hasattr(timeout, "connect_timeout"):
        return _largest(
            resolved(timeout.total),
            resolved(getattr(timeout, "_connect", None)),
            resolved(getattr(timeout, "_read", None)),
        )
    return _largest(resolved(timeout))


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
    return verb, url, _largest(timeout)


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
    except ImportError:
        pass
    else:
        _patches.wrap(
            HTTPConnectionPool, "urlopen", _watching("urllib3", _describe_urllib3, _urllib3_status)
        )
    import urllib.request

    _patches.wrap(
        urllib.request.OpenerDirector,
        "open",
        _watching("urllib", _describe_urllib, _urllib_status),
    )


def uninstall() -> None:
    _patches.undo()
