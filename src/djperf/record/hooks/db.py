"""Every statement sent to any database, through ``connection.execute_wrapper``.

The wrapper is attached to each connection when it is created (the
``connection_created`` signal) and to connections that already exist when
djperf installs, so aliases first used inside a capture are seen too. It is
inserted first in ``execute_wrappers`` because Django's own
``connection.execute_wrapper()`` context manager pops the *last* entry on exit:
appending could let a user's wrapper pop ours.

Django's debug cursor (``force_debug_cursor``) is never touched: it makes
Django keep a query log of its own, which costs time in production.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created

from djperf._errors import contain
from djperf.findings import Location
from djperf.record.events import Query, QueryRole, query_shape
from djperf.record.hooks._state import (
    CHANGELIST,
    CURRENT_LOAD,
    CURRENT_PREFETCH,
    EVALUATION_SITE,
    OPERATION,
    SAVING,
)
from djperf.record.scope import Recording, active, stacks_wanted
from djperf.record.sql import is_transaction, shared
from djperf.record.stack import locate, same_way_out
from djperf.record.work import REQUEST

_DISPATCH_UID = "djperf.record.hooks.db"


def djperf_execute_wrapper(
    execute: Callable[..., Any],
    sql: Any,
    params: Any,
    many: bool,
    context: Mapping[str, Any],
) -> Any:
    scopes = active()
    if not scopes:
        return execute(sql, params, many, context)
    if (
        many
        and params is not None
        and not isinstance(params, Sequence)
        and any(r.options.capture_params for r in scopes)
    ):
        # executemany() may get a one-shot iterator: keep a copy we can store.
        params = list(params)
    start = perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        duration = perf_counter() - start
        try:
            record_query(scopes, sql, params, many, context["connection"], start, duration)
        except Exception:
            contain("database")


def record_query(
    scopes: tuple[Recording, ...],
    sql: Any,
    params: Any,
    many: bool,
    connection: Any,
    started: float,
    duration: float,
) -> None:
    text = sql if isinstance(sql, str) else _as_text(sql)
    bookkeeping = False
    location = drive = via = caller = library_call = None
    outer: tuple[Location, ...] = ()
    sent = None
    crossed = 0
    request = REQUEST.get()
    writing = not many and text[:6].upper() in _WRITES
    if stacks_wanted(scopes):
        # The line that called the query's function: write-in-loop tells a
        # loop (one calling line) from a helper called from several lines,
        # duplicate-query a function called again from a loop.
        frame = sys._getframe(2)
        evaluating = EVALUATION_SITE.get()
        if evaluating is not None and same_way_out(frame, evaluating[0]):
            site = evaluating[1]
        else:
            site = locate(frame, drive=request is None, caller=True)
        location, bookkeeping, drive, via, caller, library_call, outer, sent, crossed = site
    text, shape = shared(text, backslash_escapes=connection.vendor == "mysql")
    load = CURRENT_LOAD.get()
    operation = OPERATION.get()
    role: QueryRole | None
    if bookkeeping or is_transaction(shape) or _MIGRATIONS in shape:
        role = "bookkeeping"
    elif load is not None:
        role = "lazy_load"
    elif CURRENT_PREFETCH.get() is not None:
        role = "prefetch"
    else:
        role = None if operation is None else operation.kind
    plain = Query(
        text,
        shape,
        None,
        duration,
        connection.alias,
        many,
        location,
        role=role,
        operation=None if operation is None else operation.number,
        params_key=None if many else _params_key(params),
        started=started,
        admin=CHANGELIST.get(),
        request=request,
        drive=drive,
        where_key=_where_key(text, params) if writing else None,
        set_key=_set_key(text, params) if writing else None,
        saved_model=SAVING.get(),
        via=via,
        caller=caller,
        library_call=library_call,
        outer=outer,
        sent=sent,
        crossed=crossed,
    )
    with_params: Query | None = None
    for rec in scopes:
        if not rec.open:
            continue
        if rec.options.capture_params:
            if with_params is None:
                with_params = dataclasses.replace(plain, params=_freeze(params, many))
            rec.keep("queries", with_params, query_shape)
        else:
            rec.keep("queries", plain, query_shape)
    if load is not None:
        load.queries.append(plain)


# The table of applied migrations: Django's migration machinery reads it (a
# project's `migrate` command, a TransactionTestCase's set-up).
_MIGRATIONS = "django_migrations"


_WRITES = ("UPDATE", "DELETE")


def _where_key(text: str, params: Any) -> int | None:
    """A hash of the values the WHERE clause of an UPDATE or DELETE compares
    with: Django passes them last, after the SET values."""
    if not params or isinstance(params, Mapping):
        return None
    where = text.rpartition(" WHERE ")[2] if " WHERE " in text else ""
    compared = where.count("%s")
    return _params_key(tuple(params)[-compared:]) if compared else None


def _set_key(text: str, params: Any) -> int | None:
    """For an UPDATE that sets plain values (a save()), a hash of them in
    column order, None where Django wrote NULL into the statement: the same
    key as an INSERT of those values has as its params_key. Django passes
    the SET values first, before the WHERE clause's."""
    if not params or isinstance(params, Mapping) or text[:6].upper() != "UPDATE":
        return None
    assignments = _PLAIN_SET.match(text)
    if assignments is None:
        return None
    given = iter(tuple(params))
    try:
        values = tuple(
            None if value == "NULL" else next(given)
            for value in _ASSIGNED_VALUE.findall(assignments.group(1))
        )
    except StopIteration:
        return None
    return _params_key(values)


# UPDATE t SET "a" = %s, "b" = NULL WHERE ...: every value a plain one.
_PLAIN_SET = re.compile(
    r"UPDATE \S+ SET ((?:[\w\"`.]+ = (?:%s|NULL)(?:, |(?= WHERE |$)))+)(?: WHERE |$)"
)
_ASSIGNED_VALUE = re.compile(r"= (%s|NULL)")


def _params_key(params: Any) -> int | None:
    if params is None:
        return None
    try:
        return hash(tuple(params) if not isinstance(params, Mapping) else tuple(params.items()))
    except TypeError:
        # A list or dict among the values (an array, a JSON document).
        return hash(repr(params))


def _as_text(sql: Any) -> str:
    if isinstance(sql, bytes):
        return sql.decode("utf-8", "replace")
    return str(sql)


def _freeze(params: Any, many: bool) -> tuple[Any, ...]:
    if params is None:
        return ()
    if many:
        return tuple(_freeze(p, False) for p in params)
    if isinstance(params, Mapping):
        return tuple(sorted(params.items()))
    return tuple(params)


def _attach(connection: Any) -> None:
    wrappers = connection.execute_wrappers
    if djperf_execute_wrapper not in wrappers:
        wrappers.insert(0, djperf_execute_wrapper)


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    _attach(connection)


# Threads whose connections were attached since the last install(): a
# connection made later is attached when it connects (connection_created).
_attached = threading.local()
_installs = 0


def install() -> None:
    global _installs
    _installs += 1
    connection_created.connect(_on_connection_created, dispatch_uid=_DISPATCH_UID)
    attach_current_thread()


def uninstall() -> None:
    connection_created.disconnect(dispatch_uid=_DISPATCH_UID)
    for connection in connections.all(initialized_only=True):
        while djperf_execute_wrapper in connection.execute_wrappers:
            connection.execute_wrappers.remove(djperf_execute_wrapper)


def attach_current_thread() -> None:
    """Attach to this thread's existing connections (they may predate
    install()); once per thread and install."""
    if getattr(_attached, "install", None) == _installs:
        return
    for connection in connections.all(initialized_only=True):
        _attach(connection)
    _attached.install = _installs
