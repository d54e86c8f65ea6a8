"""Requests: where each request begins and ends, so that each is judged on its own.

Every request Django serves goes once through ``BaseHandler.get_response``
(WSGI, the test client, RequestFactory requests sent through a handler) or
``BaseHandler.get_response_async`` (ASGI, the async test client): the
response is built, and a TemplateResponse rendered, inside it. While a capture
is open, the wrapper gives the request a serial number in
`djperf.record.work.REQUEST` for that time; the ContextVar follows the request
into sync_to_async's worker threads. A request made inside another (a view
calling the test client) belongs to the outer one.

With no capture open the wrappers cost one ContextVar read per request.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.handlers.base import BaseHandler

from djperf.record.hooks._patch import Patches
from djperf.record.scope import active
from djperf.record.work import REQUEST, next_serial

_patches = Patches()


def _serving(original: Any) -> Any:
    @functools.wraps(original)
    def get_response(self: Any, request: Any) -> Any:
        if REQUEST.get() is not None or not active():
            return original(self, request)
        token = REQUEST.set(next_serial())
        try:
            return original(self, request)
        finally:
            REQUEST.reset(token)

    return get_response


def _serving_async(original: Any) -> Any:
    @functools.wraps(original)
    async def get_response_async(self: Any, request: Any) -> Any:
        if REQUEST.get() is not None or not active():
            return await original(self, request)
        token = REQUEST.set(next_serial())
        try:
            return await original(self, request)
        finally:
            REQUEST.reset(token)

    return get_response_async


def install() -> None:
    if _patches:
        return
    _patches.wrap(BaseHandler, "get_response", _serving)
    _patches.wrap(BaseHandler, "get_response_async", _serving_async)


def uninstall() -> None:
    _patches.undo()
