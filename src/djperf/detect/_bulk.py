"""What a bulk write skips that the per-row writes ran: a model's own
save() or delete(), and the signal receivers that fire per object.

write-in-loop asks it for the bulk form of a loop's writes, repeated-query
for the through rows a package's per-object manager call writes.
"""

from __future__ import annotations

import weakref
from typing import Any

from django.db import models
from django.db.models import signals

from djperf.detect._models import short
from djperf.record.stack import is_user_file


def skipped_by_bulk(verb: str, model: Any) -> tuple[list[str], list[str]]:
    """What the bulk form of `verb` would not run for `model`: its own save()
    or delete(), and the signal receivers that fire per object. (A queryset
    delete() still sends pre_delete and post_delete; bulk_create,
    bulk_update and update() send no save signal; through rows written in
    bulk send no m2m_changed.)

    Two lists: what stops the bulk form from being code to paste, and the
    receivers a third-party package connected for every model (easy-
    thumbnails', imagekit's), which usually do nothing for a model they do
    not concern: noted beside the code."""
    if model is None:
        return [], []
    if model._meta.auto_created:
        # Written through the through model: m2m_changed's sender.
        return _receivers(signals.m2m_changed, "m2m_changed", model)
    name = short(model._meta.label)
    if verb == "delete":
        return ([f"{name}.delete()"] if _overrides(model, "delete") else []), []
    # (save_base() too: a model may hook its saves there, as django-model-utils'
    # field trackers and some audit libraries do.)
    skipped = [f"{name}.{m}()" for m in ("save", "save_base") if _overrides(model, m)]
    everywhere: list[str] = []
    for signal, label in ((signals.pre_save, "pre_save"), (signals.post_save, "post_save")):
        own, general = _receivers(signal, label, model)
        skipped += own
        everywhere += general
    return skipped, everywhere


def _overrides(model: Any, method: str) -> bool:
    """Whether `model` (itself, a parent or a mixin) defines `method` over Model's."""
    owner = next(klass for klass in model.__mro__ if method in vars(klass))
    return owner is not models.Model


def _receivers(signal: Any, label: str, sender: Any) -> tuple[list[str], list[str]]:
    """The receivers `signal` would call for `sender`, by name: those that
    matter, and those a third-party package connected for every sender."""
    if not signal.has_listeners(sender):
        return [], []
    try:
        from django.dispatch.dispatcher import NONE_ID

        live = signal._live_receivers(sender)
        found = [*live[0], *live[1]] if isinstance(live, tuple) else list(live)
        # The registry keeps ((receiver or dispatch_uid, sender id), receiver
        # or a weak reference to it, ...) per connection.
        for_all = [
            entry[1]() if isinstance(entry[1], weakref.ref) else entry[1]
            for entry in signal.receivers
            if entry[0][1] == NONE_ID
        ]
    except Exception:  # a private API: names only when it answers
        return [f"the {label} receiver (unnamed)"], []
    own: list[str] = []
    general: list[str] = []
    for receiver in found:
        named = (
            f"the {label} receiver {getattr(receiver, '__module__', '?')}."
            f"{getattr(receiver, '__qualname__', type(receiver).__name__)}"
        )
        if any(receiver == other for other in for_all) and not _users(receiver):
            general.append(named)
        else:
            own.append(named)
    return own, general


def _users(receiver: Any) -> bool:
    """Whether the receiver is the project's own code (or cannot be told)."""
    code = getattr(getattr(receiver, "__func__", receiver), "__code__", None)
    return code is None or is_user_file(code.co_filename)


def for_every_model(receivers: list[str], model: Any) -> str:
    """How a fix names the receivers a package connected for every model,
    which a bulk form skips too: "the post_save receiver
    haystack...handle_save, connected for every model: check they do
    nothing for Product"."""
    name = short(model._meta.label) if model is not None else "the model"
    return f"{', '.join(receivers)}, connected for every model: check they do nothing for {name}"
