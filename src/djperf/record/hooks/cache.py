"""Round trips to caches: Django's cache API and Redis (redis-py).

Django's cache backends have no common hook, and each one overrides the
methods, so the methods of each backend *instance* are wrapped when Django
creates it (``CacheHandler.create_connection``), and those already created
when djperf installs. The async methods (``aget`` ...) call the sync ones
through sync_to_async, so they are recorded once, with the awaiting line.
redis-py is wrapped at ``Redis.execute_command`` and ``Pipeline.execute``
(sync and asyncio). A call made inside another (a backend's get_many calling
get per key, Django's RedisCache calling redis-py) is recorded once, by the
outermost.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
import time
import types
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from djperf._errors import contain
from djperf.record.events import CacheCall, cache_call_shape
from djperf.record.hooks._patch import Patches
from djperf.record.scope import Recording, active, stacks_wanted
from djperf.record.stack import Site, locate
from djperf.record.work import REQUEST

_patches = Patches()
_IN_CALL: ContextVar[bool] = ContextVar("djperf_in_cache_call", default=False)

CACHE_METHODS = (
    "get",
    "set",
    "add",
    "delete",
    "touch",
    "incr",
    "decr",
    "has_key",
    "get_many",
    "set_many",
    "delete_many",
    "get_or_set",
    "clear",
)
# Django's async methods (aget ...) call the sync ones, one per key for the
# *_many ones (BaseCache.aget_many awaits aget per key): wrapped too, so a
# single aget_many is one call and the calls inside it are not.
ASYNC_CACHE_METHODS = tuple(f"a{name}" for name in CACHE_METHODS)
# No stack walked (the capture asked for no locations).
_NOWHERE = Site(None)
_MANY = ("get_many", "set_many", "delete_many", "aget_many", "aset_many", "adelete_many")
_WRAPPED = "_djperf_wrapped"


def _record(
    scopes: tuple[Recording, ...],
    backend: str,
    command: str,
    keys: int,
    started: float,
    key: Any = None,
) -> None:
    duration = time.perf_counter() - started
    request = REQUEST.get()
    site = (
        locate(sys._getframe(1), drive=request is None, caller=True)
        if stacks_wanted(scopes)
        else _NOWHERE
    )
    call = CacheCall(
        backend=backend,
        command=command,
        keys=keys,
        key=None if key is None else key_template(key),
        started=started,
        duration=duration,
        location=site.location,
        request=request,
        drive=site.drive,
        via=site.via,
        library_call=site.library_call,
        caller=site.caller,
        outer=site.outer,
    )
    for rec in scopes:
        if rec.open:
            rec.keep("cache_calls", call, cache_call_shape)


def _first_key(args: tuple[Any, ...]) -> Any:
    """The key of a cache call (the first one of a *_many call)."""
    if not args:
        return None
    first = args[0]
    if isinstance(first, (str, bytes)):
        return first
    try:
        return next(iter(first), None)  # a mapping or a list of keys
    except TypeError:
        return None


_KEY_PARTS = re.compile(r"([:._/|-])")


def key_template(key: Any) -> str:
    """A cache key with everything but its first part (its namespace) as
    ``#``: ``"product:42:price"`` -> ``"product:#:#"``, ``"user:alice"`` ->
    ``"user:#"``. Only the template is kept: keys hold names, emails and
    tokens, as query parameters do."""
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
    head, *rest = _KEY_PARTS.split(text)
    if not rest:
        return text if text.isalpha() and len(text) <= 24 else "#"
    separators = rest[0::2]
    return head + "".join(f"{separator}#" for separator in separators)


def _keys(command: str, args: tuple[Any, ...]) -> int:
    if command in _MANY and args:
        first = args[0]
        if isinstance(first, Mapping):
            return len(first)
        try:
            return len(first)
        except TypeError:
            return 1
    return 1


def _measured(
    scopes: tuple[Recording, ...],
    original: Callable[..., Any],
    backend: str,
    command: str,
    count: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    key: Any = None,
) -> Any:
    token = _IN_CALL.set(True)
    started = time.perf_counter()
    try:
        return original(*args, **kwargs)
    finally:
        _IN_CALL.reset(token)
        try:
            _record(scopes, backend, command, count, started, key)
        except Exception:
            contain("cache call")


async def _measured_async(
    scopes: tuple[Recording, ...],
    original: Callable[..., Any],
    backend: str,
    command: str,
    count: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    key: Any = None,
) -> Any:
    token = _IN_CALL.set(True)
    started = time.perf_counter()
    try:
        return await original(*args, **kwargs)
    finally:
        _IN_CALL.reset(token)
        try:
            _record(scopes, backend, command, count, started, key)
        except Exception:
            contain("cache call")


def _timed(
    original: Callable[..., Any], backend: str, command: str, keys: Callable[..., int]
) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        scopes = active()
        if not scopes or _IN_CALL.get():
            return original(*args, **kwargs)
        try:
            # Before the call: a pipeline empties its command stack as it runs.
            count = keys(*args, **kwargs)
        except Exception:
            contain("cache call")
            return original(*args, **kwargs)
        first = _first_key(args) if backend != "redis" else None
        return _measured(scopes, original, backend, command, count, args, kwargs, first)

    return call


def _timed_async(
    original: Callable[..., Any], backend: str, command: str, keys: Callable[..., int]
) -> Callable[..., Any]:
    @functools.wraps(original)
    async def call(*args: Any, **kwargs: Any) -> Any:
        scopes = active()
        if not scopes or _IN_CALL.get():
            return await original(*args, **kwargs)
        try:
            count = keys(*args, **kwargs)
        except Exception:
            contain("cache call")
            return await original(*args, **kwargs)
        first = _first_key(args) if backend != "redis" else None
        return await _measured_async(scopes, original, backend, command, count, args, kwargs, first)

    return call


# -- Django's cache API ---------------------------------------------------------------


def _bound(wrapper: Callable[..., Any], backend: Any) -> Any:
    """`wrapper` as a method of `backend`: code that inspects ``backend.get``
    (Django checks ``self.get_many.__func__``) sees a real bound method.

    Never copy the original's ``__func__`` onto a plain function instead:
    asgiref's sync_to_async copies a callable's attributes and marks their
    ``__func__`` as a coroutine function, which would corrupt Django's own
    method for every caller (seen on Python 3.13).
    """

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrapper(*args, **kwargs)

    async def async_method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await wrapper(*args, **kwargs)

    function = async_method if inspect.iscoroutinefunction(wrapper) else method
    function.__name__ = function.__qualname__ = getattr(wrapper, "__name__", "method")
    return types.MethodType(function, backend)


def watch_backend(backend: Any, alias: str) -> Any:
    """Wrap the cache methods of one backend instance (idempotent)."""
    if getattr(backend, _WRAPPED, False):
        return backend
    name = f"cache:{alias}"
    for command in CACHE_METHODS:
        bound = getattr(backend, command, None)
        if bound is not None:
            keys = functools.partial(_keys_of, command)
            setattr(backend, command, _bound(_timed(bound, name, command, keys), backend))
    for command in ASYNC_CACHE_METHODS:
        bound = getattr(backend, command, None)
        if bound is not None:
            keys = functools.partial(_keys_of, command)
            setattr(backend, command, _bound(_timed_async(bound, name, command[1:], keys), backend))
    setattr(backend, _WRAPPED, True)
    return backend


def _keys_of(command: str, *args: Any, **kwargs: Any) -> int:
    return _keys(command, args)


def _watching_handler(original: Any) -> Any:
    def create_connection(self: Any, alias: str) -> Any:
        backend = original(self, alias)
        try:
            watch_backend(backend, alias)
        except Exception:
            contain("cache backend")
        return backend

    return create_connection


def unwatch_backend(backend: Any) -> None:
    if getattr(backend, _WRAPPED, False):
        for command in (*CACHE_METHODS, *ASYNC_CACHE_METHODS, _WRAPPED):
            backend.__dict__.pop(command, None)


# -- redis-py -----------------------------------------------------------------------


def _command_name(name: Any) -> str:
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    return str(name).upper()


def _watching_redis(original: Any) -> Any:
    @functools.wraps(original)
    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        scopes = active()
        if not scopes or _IN_CALL.get() or not args:
            return original(self, *args, **options)
        return _measured(
            scopes,
            original,
            "redis",
            _command_name(args[0]),
            1,
            (self, *args),
            options,
            args[1] if len(args) > 1 else None,
        )

    return execute_command


def _watching_redis_async(original: Any) -> Any:
    @functools.wraps(original)
    async def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        scopes = active()
        if not scopes or _IN_CALL.get() or not args:
            return await original(self, *args, **options)
        return await _measured_async(
            scopes,
            original,
            "redis",
            _command_name(args[0]),
            1,
            (self, *args),
            options,
            args[1] if len(args) > 1 else None,
        )

    return execute_command


def _pipeline_size(pipeline: Any, *args: Any, **kwargs: Any) -> int:
    return len(getattr(pipeline, "command_stack", ()) or ()) or 1


def _watching_pipeline(original: Any) -> Any:
    return _timed(original, "redis", "pipeline", _pipeline_size)


def _watching_pipeline_async(original: Any) -> Any:
    return _timed_async(original, "redis", "pipeline", _pipeline_size)


def install() -> None:
    if _patches:
        return
    from django.core.cache import CacheHandler, caches

    _patches.wrap(CacheHandler, "create_connection", _watching_handler)
    for alias in caches:
        # Backends this thread already created (others are created wrapped).
        if hasattr(caches._connections, alias):  # type: ignore[attr-defined]
            try:
                watch_backend(caches[alias], alias)
            except Exception:
                contain("cache backend")
    try:
        import redis.client
    except ImportError:
        return
    _patches.wrap(redis.client.Redis, "execute_command", _watching_redis)
    _patches.wrap(redis.client.Pipeline, "execute", _watching_pipeline)
    try:
        import redis.asyncio.client
    except ImportError:
        return
    _patches.wrap(redis.asyncio.client.Redis, "execute_command", _watching_redis_async)
    _patches.wrap(redis.asyncio.client.Pipeline, "execute", _watching_pipeline_async)


def uninstall() -> None:
    from django.core.cache import caches

    _patches.undo()
    for backend in caches.all(initialized_only=True):
        unwatch_backend(backend)
