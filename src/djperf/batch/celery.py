"""update_in_batches() across Celery workers: the key range cut into chunks,
one task per chunk, each with its own checkpoint (the ``celery`` extra).

    from djperf.batch.celery import update_in_tasks

    result = update_in_tasks(
        "shop.jobs.stale_products",   # a function returning the queryset
        "shop.jobs.reprice",          # fn(obj), as for update_in_batches()
        ["price"],
        name="reprice-2026-12",
        chunks=16,
    )
    result.get()                      # a GroupResult: one dict of counts per chunk

Tasks receive dotted paths, never a queryset or a function (a message carries
JSON, and a worker imports code it can trust). The chunks' limits are keys of
the queryset's key (the primary key by default), found with one query per
limit; they are stored under `name` with the checkpoint, so a second call
with the same name, after workers died or a task failed, runs the same chunks
from where each stopped; a chunk that finished is not run again. Once every
chunk of a name has finished, the next call with that name starts a new job
(``forget(name)`` removes a finished job's checkpoints).

Checkpoints: ``"table"`` (default: a row per chunk in the job's database,
written in each batch's transaction, so exactly once) or ``"cache"`` (a cache
every worker shares: Redis, Memcached; at least once).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Sequence
from typing import Any

from celery import group, shared_task

from djperf.batch.checkpoint import CacheCheckpoint, Checkpoint, TableCheckpoint, decode, encode
from djperf.batch.job import write_alias
from djperf.batch.keyset import BatchError, Plan
from djperf.batch.writes import update_in_batches

__all__ = ["forget", "update_chunk", "update_in_tasks"]

KINDS = ("table", "cache")


def update_in_tasks(
    queryset: str,
    fn: str,
    fields: Sequence[str],
    *,
    name: str,
    chunks: int = 8,
    size: int = 1000,
    key: str | None = None,
    checkpoint: str = "table",
    queue: str | None = None,
) -> Any:
    """Send one update_chunk task per chunk; the celery GroupResult."""
    if checkpoint not in KINDS:
        raise BatchError(f"checkpoint must be one of {', '.join(KINDS)}, not {checkpoint!r}")
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
        raise BatchError(f"chunks must be a whole number, 1 or more, not {chunks!r}")
    rows = _resolve(queryset)()
    _resolve(fn)  # a wrong path fails here, not in every worker
    plan = Plan(rows, size, key)
    if len(plan.key.attnames) != 1:
        raise BatchError("update_in_tasks() cuts the key range: give it a key of one field")
    using = write_alias(rows)
    identity = _identity(queryset, fn, fields, key)
    store = _checkpoint(checkpoint, name, using)
    store.prepare(using)
    limits = _stored_limits(store, name, identity)
    if limits is not None and _finished(checkpoint, name, using, limits):
        # The last job of this name finished: this call is a new one.
        forget(name, checkpoint=checkpoint, using=using)
        limits = _stored_limits(store, name, identity)  # None now
    if limits is None:
        limits = _limits(plan, chunks)
        store.save({"job": identity, "limits": encode(tuple(limits))})
    signature = update_chunk.si
    options = {"queue": queue} if queue else {}
    tasks = [
        signature(
            queryset,
            fn,
            list(fields),
            name,
            index,
            _encoded(limits, index - 1),
            _encoded(limits, index),
            size,
            key,
            checkpoint,
        ).set(**options)
        for index in range(len(limits) + 1)
    ]
    return group(tasks).apply_async()


@shared_task(name="djperf.batch.update_chunk")  # type: ignore[untyped-decorator]
def update_chunk(
    queryset: str,
    fn: str,
    fields: list[str],
    name: str,
    index: int,
    after: list[Any] | None,
    upto: list[Any] | None,
    size: int,
    key: str | None,
    checkpoint: str,
) -> dict[str, Any]:
    """One chunk: the rows whose key is after `after` and up to `upto`."""
    rows = _resolve(queryset)()
    plan = Plan(rows, size, key)
    attname = plan.key.attnames[0]
    field = rows.model._meta.get_field(plan.key.names[0])
    down = plan.key.descending[0]
    if after is not None:
        rows = rows.filter(**{f"{attname}__{'lt' if down else 'gt'}": decode(after, [field])[0]})
    if upto is not None:
        rows = rows.filter(**{f"{attname}__{'gte' if down else 'lte'}": decode(upto, [field])[0]})
    using = write_alias(rows)
    chunk = _Chunk(_checkpoint(checkpoint, f"{name}.{index}", using))
    chunk.prepare(using)
    state = chunk.load()
    if state is not None and state.get("job") == "done":
        if state.get("of") not in (None, _identity(queryset, fn, fields, key)):
            raise BatchError(
                f"chunk {index} of {name!r} was finished by another job: choose another name"
            )
        return {"chunk": index, "rows": 0, "written": 0, "resumed_after": state["rows"]}
    chunk.identity = _identity(queryset, fn, fields, key)
    result = update_in_batches(rows, _resolve(fn), fields, size, key=key, checkpoint=chunk)
    return {
        "chunk": index,
        "rows": result.rows,
        "written": result.written,
        "resumed_after": result.resumed_after,
    }


class _Chunk(Checkpoint):
    """A chunk's checkpoint, which says "done" where a job's would be
    cleared: a finished chunk must not run again when its siblings resume."""

    def __init__(self, inner: Checkpoint) -> None:
        self.inner = inner
        self.in_transaction = inner.in_transaction
        self.rows = 0
        self.identity = ""

    def __repr__(self) -> str:
        return repr(self.inner)

    def prepare(self, using: str) -> None:
        self.inner.prepare(using)
        self.in_transaction = self.inner.in_transaction

    def load(self) -> dict[str, Any] | None:
        state = self.inner.load()
        self.rows = int((state or {}).get("rows", 0))
        return state

    def save(self, state: dict[str, Any]) -> None:
        self.rows = int(state.get("rows", 0))
        self.inner.save(state)

    def clear(self) -> None:
        self.inner.save({"job": "done", "of": self.identity, "rows": self.rows})


def _limits(plan: Plan, chunks: int) -> list[Any]:
    """The last key of each chunk but the last: `chunks` chunks whose row
    counts differ by one at most (fewer when there are fewer rows), found
    with one OFFSET query per limit over the key's index alone."""
    attname = plan.key.attnames[0]
    keys = plan.ordered.values_list(attname, flat=True)
    total = keys.count()
    ends = sorted({total * index // chunks for index in range(1, chunks)} - {0, total})
    return [keys[end - 1] for end in ends]


def _identity(queryset: str, fn: str, fields: Sequence[str], key: str | None) -> str:
    """What a job of update_in_tasks() is: its paths, fields and key."""
    text = "\n".join(["update_in_tasks", queryset, fn, ",".join(fields), key or "pk"])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stored_limits(store: Checkpoint, name: str, identity: str) -> list[Any] | None:
    """The limits of the stored job of this name (its chunks resume)."""
    state = store.load()
    if state is None:
        return None
    if state.get("job") != identity:
        raise BatchError(
            f"{name!r} names a job of another queryset, function, fields or key: choose "
            "another name (or forget() it once it has finished)"
        )
    return list(state["limits"])


def _finished(kind: str, name: str, using: str, limits: list[Any]) -> bool:
    """Whether every chunk of the stored job has finished."""
    return all(
        (_checkpoint(kind, f"{name}.{index}", using).load() or {}).get("job") == "done"
        for index in range(len(limits) + 1)
    )


def forget(name: str, *, checkpoint: str = "table", using: str = "default") -> None:
    """Remove the checkpoints of the job `name` (its plan and its chunks')."""
    store = _checkpoint(checkpoint, name, using)
    store.prepare(using)
    state = store.load()
    if state is None:
        return
    for index in range(len(state.get("limits", [])) + 1):
        _checkpoint(checkpoint, f"{name}.{index}", using).clear()
    store.clear()


def _encoded(limits: list[Any], index: int) -> list[Any] | None:
    if index < 0 or index >= len(limits):
        return None
    return encode((limits[index],))


def _checkpoint(kind: str, name: str, using: str) -> Checkpoint:
    if kind == "cache":
        return CacheCheckpoint(name)
    return TableCheckpoint(name, using=using)


def _resolve(path: str) -> Callable[..., Any]:
    """The function at a dotted path ("package.module.function")."""
    module, _, attribute = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise BatchError(f"{path!r} is not an importable function: {error}") from None
    if not callable(found):
        raise BatchError(f"{path!r} is not a function")
    return found  # type: ignore[no-any-return]
