"""Management commands: each run of a command is judged on its own, like a request.

A test, or a command such as a project's ``reset``, may run several commands
(``call_command("migrate")`` then ``call_command("loaddata", ...)``), and each
command does its own set-up: ``migrate`` sends post_migrate, whose receivers
look up the same content types and permissions every time it runs. That
repeats because the commands were run several times, not inside one of
them. While a capture is open, ``BaseCommand.execute`` gives each run a
serial number in `djperf.record.work.REQUEST`; a command run by another
command gets its own (``migrate`` even when another command calls its
``handle()`` directly), and so does one run inside a request (rare: the
request's own work around it stays the request's).

With no capture open the wrapper costs one ContextVar read per command.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.management.base import BaseCommand

from djperf.record.hooks._patch import Patches
from djperf.record.scope import active
from djperf.record.work import REQUEST, next_serial

_patches = Patches()


def _running(original: Any) -> Any:
    @functools.wraps(original)
    def execute(self: Any, *args: Any, **options: Any) -> Any:
        if not active():
            return original(self, *args, **options)
        token = REQUEST.set(next_serial())
        try:
            return original(self, *args, **options)
        finally:
            REQUEST.reset(token)

    return execute


def install() -> None:
    if _patches:
        return
    _patches.wrap(BaseCommand, "execute", _running)
    # A project's command may run migrate's handle() itself, without
    # execute() (babybuddy's reset migrates each app to zero in a loop): each
    # run of migrate is still one, with its own post_migrate.
    from django.core.management.commands import migrate

    _patches.wrap(migrate.Command, "handle", _running)


def uninstall() -> None:
    _patches.undo()
