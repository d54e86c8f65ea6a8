"""What a capture records: plain data, one class per kind of event.

`Query` is part of the public contract (docs/capture.md), with `Location`,
which lives on the ground floor (djperf.findings) and is re-exported here.
`Evaluation`, `Provenance` and `LazyLoad` are the raw material of the N+1
detectors: which queryset evaluation produced each model instance, and which
relations were then loaded one instance at a time.
"""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass
from typing import Any, Literal

from djperf.findings import Location
from djperf.record.work import Drive

__all__ = [
    "CacheCall",
    "Evaluation",
    "HttpCall",
    "LazyLoad",
    "Location",
    "Provenance",
    "Query",
    "QueryRole",
    "RelationKind",
]

# The relation kinds a lazy load can go through, in the user's terms.
RelationKind = Literal[
    "foreign_key",  # book.author
    "one_to_one",  # bio.author
    "reverse_one_to_one",  # author.bio
    "reverse_foreign_key",  # author.books.all(), book.chapter_set.all()
    "many_to_many",  # book.tags.all(), tag.books.all()
    "generic_foreign_key",  # note.content_object
    "generic_relation",  # book.notes.all()
    "deferred_field",  # Book.objects.only("title") then book.summary
]


# Why Django sent a statement, when it was not straight from the user's code.
QueryRole = Literal[
    "lazy_load",  # a relation or deferred field loaded for one instance
    "prefetch",  # a prefetch_related query
    "delete",  # a deletion and its cascades (Collector.delete)
    "bulk",  # bulk_create, bulk_update, in_bulk
    "relation_write",  # a related manager's set(), add(), remove(), clear()
    "get_or_create",  # get_or_create(), update_or_create(): a read, maybe a write
    "bookkeeping",  # sessions, auth, content types, transaction statements
]


@dataclass(frozen=True, slots=True)
class Query:
    """One statement sent to a database."""

    sql: str
    fingerprint: str
    # None unless the capture asked for capture_params=True.
    params: tuple[Any, ...] | None
    duration: float
    alias: str
    many: bool
    location: Location | None
    role: QueryRole | None = None
    # Statements of one Django operation share it: one delete with its
    # cascades, the batches of one bulk_create, one related manager set().
    operation: int | None = None
    # A hash of the parameters (salted per process, like Python's own string
    # hashes): tells a duplicate (same values) from a repeat (other values)
    # without keeping the values.
    params_key: int | None = None
    # time.perf_counter() when it was sent.
    started: float = 0.0
    # Sent by an admin changelist (its counts): the ModelAdmin class's
    # location (see hooks/admin.py).
    admin: Location | None = None
    # The request or task run it belongs to, and outside one, the call from
    # test code behind it (work.py).
    request: int | None = None
    drive: Drive | None = None
    # For an UPDATE or DELETE, a hash of the values its WHERE clause compares
    # with (salted per process): equal for writes of the same rows.
    where_key: int | None = None
    # For an UPDATE, a hash of the values it sets, in the same salt as
    # params_key: equal to an INSERT's params_key when a save() writes again
    # exactly what a create() just inserted.
    set_key: int | None = None
    # Sent while a save() ran: the model class of the saved instance
    # ("app.Model"), a proxy's own when it was saved through a proxy. (The
    # signal receivers the save runs send their statements inside it too.)
    saved_model: str | None = None
    # The third-party package the user line called into to send it
    # ("sorl"), when not Django's ORM directly: its fix is about the call.
    via: str | None = None
    # The user line that called the function `location` is in (None in a
    # template, whose caller is the render).
    caller: Location | None = None
    # With `via`, the one call into that package it was sent by (stack.Site).
    library_call: int | None = None
    # The user lines outside `caller`, innermost first (stack.Site.outer).
    outer: tuple[Location, ...] = ()
    # The index into (location, caller, *outer) of the line whose function
    # ran inside a signal's send() or a save_base() (stack.Site.sent).
    sent: int | None = None
    # Bit i: the function of line i of (location, caller, *outer) was
    # reached from line i + 1 through code not of the project's
    # (stack.Site.crossed).
    crossed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "fingerprint": self.fingerprint,
            "params": None if self.params is None else [repr(p) for p in self.params],
            "duration": self.duration,
            "alias": self.alias,
            "many": self.many,
            "location": None if self.location is None else self.location.to_dict(),
            "role": self.role,
        }


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One outbound HTTP request, with the timeout that was in force."""

    library: str  # "requests", "httpx", "urllib3", "urllib"
    method: str
    # scheme://host/path; the query string only with capture_params=True.
    url: str
    # A hash of the whole URL: equal for the same request, without keeping it.
    url_key: int
    # Seconds: the longest of connect/read/write; None when nothing bounds the call.
    timeout: float | None
    started: float
    duration: float
    location: Location | None
    # The thread or asyncio task that made it: calls of one task that do not
    # overlap ran one after another.
    task: int
    # Made by a coroutine (an asyncio task) rather than a thread.
    asynchronous: bool = False
    status: int | None = None
    error: str | None = None
    request: int | None = None
    drive: Drive | None = None


@dataclass(frozen=True, slots=True)
class CacheCall:
    """One round trip to a cache: Django's cache API or a Redis command."""

    backend: str  # "cache:default", "redis"
    command: str  # "get", "set_many", "ZADD", "pipeline"
    # Keys (or pipelined commands) the round trip carried.
    keys: int
    started: float
    duration: float
    location: Location | None
    request: int | None = None
    drive: Drive | None = None
    # The (first) key's template, values as "#": "product:#:price" (None for
    # a pipeline). The key itself is never kept.
    key: str | None = None
    # The third-party package the user line called into, and which call of
    # it (as for Query).
    via: str | None = None
    library_call: int | None = None
    # The user line that called the function `location` is in, and the
    # ones further out (as for Query).
    caller: Location | None = None
    outer: tuple[Location, ...] = ()


# The empty set events share until they have something of their own.
NOTHING: frozenset[Any] = frozenset()


class _DropOnCopy:
    """Mixin for objects djperf attaches to the user's instances and queries.

    Copies share the original (a copied model instance came from the same
    evaluation), and pickling drops it: an instance that went through the cache
    must not drag a recording along, nor need djperf to be unpickled.
    """

    __slots__ = ()

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # type(None)() is None: the attribute comes back as None.
        return (type(None), ())


@dataclass(slots=True, eq=False)
class Evaluation:
    """One evaluation of a queryset that built model instances.

    ``location`` is the user line that evaluated it (the ``for``, ``list()``,
    ``get()`` ...). ``select_related`` and ``prefetch_related`` are the lookups
    it asked for, so that unused ones can be found.
    """

    model: str
    location: Location | None
    select_related: tuple[str, ...]
    prefetch_related: tuple[str, ...]
    # Rows built; final once the evaluation has been consumed or dropped.
    rows: int = 0
    # Where the queryset was created (Model.objects...), when it is known.
    built: Location | None = None
    # The line each select_related / prefetch_related lookup was asked at,
    # when known (a manager method's queryset refined by its caller).
    eager_at: dict[str, Location] | None = None
    # only("a", "b") -> ("only", ("a", "b")); defer("c") -> ("defer", ("c",)).
    deferral: tuple[str, tuple[str, ...]] | None = None
    # Relation paths used from its instances ("book", "book__publisher",
    # "tags"): select_related or prefetch_related lookups not in here were
    # never used. Empty and shared (NOTHING) until the first use: most
    # evaluations have none, and a set each is 200 bytes a get() would hold.
    used: set[str] | frozenset[str] = NOTHING

    def note_used(self, path: str) -> None:
        """Note that relation path `path` was read from its instances."""
        if type(self.used) is not set:
            self.used = set(self.used)
        self.used.add(path)

    # Prefetch lookups stored with to_attr: read as plain attributes, their
    # use cannot be seen.
    prefetch_to_attr: tuple[str, ...] = ()
    # For a prefetch or lazy-load evaluation: the root evaluation its rows
    # belong to, and their path from it ("books"). None and "" for a root.
    root: Evaluation | None = None
    path: str = ""
    # Wide columns (text, binary, JSON) holding large values in its sampled
    # row (the last of a list, the first of an iterator()): field name -> size
    # of that value; and the ones its instances read (see hooks/columns.py).
    # None until there is one.
    wide_columns: dict[str, int] | None = None
    read_columns: set[str] | None = None
    # Evaluated by Django for a write (a deletion collecting its cascades):
    # no queryset of the user's to fix.
    internal: bool = False
    # The page of an admin changelist: the ModelAdmin class's location, where
    # its fix is written (see hooks/admin.py).
    admin: Location | None = None
    # Some of its instances were pickled (into a cache, a session, a task):
    # what is done with them afterwards cannot be seen, so neither can an
    # unused eager load.
    escaped: bool = False
    # select_related joins that brought a row: full path from the root
    # ("book__publisher") -> how many of its rows had one (not NULL). None
    # until its rows are all built, or for a bare select_related().
    joined: dict[str, int] | None = None
    # Run by iterator() (a chunked fetch): its rows fill no result cache, so
    # evaluating the same queryset again queries again.
    chunked: bool = False

    @property
    def select_related_all(self) -> bool:
        """True for a bare ``select_related()`` (every non-null foreign key)."""
        return self.select_related == ("*",)


class Provenance(_DropOnCopy):
    """Where a model instance came from, relative to the queryset a fix would change.

    ``root`` is that queryset's evaluation; ``path`` is the lookup from it to
    this instance ("" for the root's own rows, "book__publisher" for a
    publisher reached from a Review through a lazy load and a select_related).
    ``how`` says how the last step was taken.

    One Provenance is shared by every instance that came the same way, so
    tagging an instance costs one attribute store. `provenance_of(instance)`
    reads it back.
    """

    __slots__ = ("_children", "evaluation", "how", "parent", "path", "root", "seen", "via")

    def __init__(
        self,
        *,
        root: Evaluation | None,
        path: str,
        how: Literal["row", "select_related", "prefetch", "lazy_load"],
        evaluation: Evaluation | None,
        via: LazyLoad | None = None,
        parent: Provenance | None = None,
    ) -> None:
        self.root = root
        self.path = path
        self.how = how
        # The evaluation whose query built the instance (for select_related, the
        # parent's: one JOIN built both).
        self.evaluation = evaluation
        self.via = via
        # For a prefetch: the provenance of the instances it was made for
        # (a basket's lines, for their prefetched attributes).
        self.parent = parent
        # The provenances of the instances select_related joined to these
        # (None until one: most instances join nothing).
        self._children: dict[str, Provenance] | None = None
        # Relations already noted as used from instances of this provenance
        # (see hooks/usage.py): each is noted once, not once per access.
        # Shared and empty until the first.
        self.seen: set[object] | frozenset[object] = NOTHING

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        if self.root is not None:
            self.root.escaped = True
        return super().__reduce__()

    def joined(self, name: str) -> str:
        """The lookup path of relation `name` taken from this instance."""
        return f"{self.path}__{name}" if self.path else name

    def selected(self, name: str) -> Provenance:
        """The provenance of a related instance built by select_related(name)."""
        children = self._children
        if children is None:
            children = self._children = {}
        child = children.get(name)
        if child is None:
            child = children[name] = Provenance(
                root=self.root,
                path=self.joined(name),
                how="select_related",
                evaluation=self.evaluation,
                via=self.via,
            )
        return child

    def joins(self) -> list[tuple[Provenance, str]]:
        """Every (provenance, relation name) a select_related() join reached
        from this one, at any depth."""
        found = []
        for name, child in (self._children or {}).items():
            found.append((self, name))
            found += child.joins()
        return found

    def __repr__(self) -> str:
        root = self.root.model if self.root is not None else None
        return f"<Provenance {self.how} root={root} path={self.path!r}>"


@dataclass(slots=True, eq=False)
class LazyLoad:
    """A relation or deferred field loaded for one instance (or, under Django 6.1's
    FETCH_PEERS, for all of its peers at once).

    ``model`` and ``field`` name the relation as the user wrote it
    (``catalogue.Review`` / ``book``); ``location`` is the line of the access.
    ``source`` is the provenance of ``instance``, so ``lookup`` is the full path
    from the queryset a fix belongs to (``book__publisher``), and ``origin``
    is where that queryset was evaluated.

    ``instance`` is held weakly: a recording never keeps the user's objects
    alive (a batch job under capture stays flat in memory), and the instances a
    load fetched never point back at it through a cycle.
    """

    model: str
    field: str
    kind: RelationKind
    related_model: str | None
    _instance: weakref.ref[Any] | None = dataclasses.field(repr=False)
    location: Location | None
    source: Provenance | None
    fetch_mode: str | None = None
    # How many instances this load served: 1, or the peers FETCH_PEERS fetched.
    peers: int = 1
    # The relation had been prefetched, but this load queried it again
    # (e.g. a prefetched relation filtered with .filter()).
    bypassed_prefetch: bool = False
    # A related manager's queryset refined before evaluation (.filter(),
    # .order_by(), a slice, .get(), .first()): prefetch_related cannot serve
    # it. The refinement as code (".order_by('-title')[:1]"), else None.
    refined: str | None = None
    queries: list[Query] = dataclasses.field(default_factory=list)
    # The evaluation that built the loaded objects, when the load built any.
    evaluation: Evaluation | None = None
    request: int | None = None
    drive: Drive | None = None
    # The third-party package the access line called into, when the load
    # happened inside it ("easy_thumbnails").
    via: str | None = None
    # A hash of the instance's model and primary key (salted per process,
    # never the value): equal for copies of one row, which each load again.
    row_key: int | None = None
    # A forward relation's object read again on the same instance after this
    # load, by another line than the load's, and where: reading only the key
    # at the load's line would move the load there.
    read_again: bool = False
    read_again_at: Location | None = None

    @property
    def instance(self) -> Any:
        """The instance whose relation was loaded, while it is alive (else None)."""
        return None if self._instance is None else self._instance()

    @property
    def lookup(self) -> str:
        """The lookup to add to the root queryset: ``book__publisher``."""
        return self.source.joined(self.field) if self.source is not None else self.field

    @property
    def origin(self) -> Location | None:
        """Where the queryset that produced ``instance`` was evaluated."""
        root = self.source.root if self.source is not None else None
        return root.location if root is not None else None

    @property
    def duration(self) -> float:
        return sum(q.duration for q in self.queries)


# The shape of each kind of event: what the rules group events by, less the
# values (a query's parameters, a call's URL), which only its exemplars keep.
# A recording past its memory budget counts the repeats of a shape instead of
# keeping them (Recording.keep).


def query_shape(query: Query) -> tuple[Any, ...]:
    return (
        query.fingerprint,
        query.alias,
        query.location,
        query.caller,
        query.outer,
        query.role,
        query.request,
        query.drive,
        query.via,
        query.saved_model,
    )


def evaluation_shape(evaluation: Evaluation) -> tuple[Any, ...]:
    return (
        evaluation.model,
        evaluation.location,
        evaluation.built,
        evaluation.select_related,
        evaluation.prefetch_related,
        evaluation.deferral,
        evaluation.path,
        evaluation.internal,
        evaluation.chunked,
    )


def lazy_load_shape(load: LazyLoad) -> tuple[Any, ...]:
    return (
        load.model,
        load.field,
        load.location,
        load.origin,
        load.lookup,
        load.refined,
        load.bypassed_prefetch,
        load.request,
        load.drive,
        load.via,
    )


def http_call_shape(call: HttpCall) -> tuple[Any, ...]:
    return (call.library, call.method, call.location, call.request, call.drive)


def cache_call_shape(call: CacheCall) -> tuple[Any, ...]:
    return (call.backend, call.command, call.location, call.request, call.drive, call.via)
