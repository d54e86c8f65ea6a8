"""Where the loop that repeats an event is, in the user's code.

A query or a write knows its own line, the line that called that line's
function (`caller`) and a few lines further out (`outer`, innermost first).
The loop that repeated it is the innermost of those lines that sits inside a
loop of its own function (detect._source.in_a_loop): the line itself (a
query inside a ``for``), its caller (a helper called once per row), or a
line several calls out (an importer's row loop calling a helper that calls
another that runs get_or_create). A fix written for the event's own line,
a variable or a bulk write "in the loop", is wrong when the loop is further
out: the rules name that loop instead.

A loop of the line's own function may also run once per call, the calls
repeated by a loop further out (an order's lines, each line's discounts
written by a helper's ``for discount in line.discounts``, one each): djperf
tells from what ran between two repeats (the recording's statements, in
order, while the rules judge it: `judging`). When, between them, a statement
ran in the function that calls the loop's function and not inside it, that
function had returned: the repeats came from separate calls, and the loop
is looked for further out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple, Protocol

from djperf.detect._source import in_a_loop, loop_line, names, remembering, source_line
from djperf.detect._work import in_test_code
from djperf.findings import Location


class Event(Protocol):
    """A query, a write, a cache call: an event with its lines."""

    @property
    def location(self) -> Location | None: ...
    @property
    def caller(self) -> Location | None: ...
    @property
    def outer(self) -> tuple[Location, ...]: ...


@dataclass(frozen=True)
class Loop:
    """The line, inside a loop of its function, that repeated the events."""

    line: Location
    # How many calls out from the event's own line: 0 is the line itself,
    # 1 the line that called its function, and so on.
    depth: int
    # The lines between, from the loop's side inward (the call the loop
    # makes first), not counting the loop's line or the event's own.
    through: tuple[Location, ...]


# A function as the lines name it: (path, function name).
Function = tuple[str, str]


@dataclass
class _Timeline:
    """The statements of the recording being judged, in the order they ran."""

    events: Sequence[Event]
    positions: dict[int, int] = field(default_factory=dict)
    # (inner, outer) -> the positions, in order, of the statements that ran
    # in `outer` and not inside `inner` (see `_one_pass_per_call`): found in
    # one pass over the timeline, asked of every repeated query.
    _returns: dict[tuple[Function, Function], list[int]] = field(default_factory=dict)

    def position(self, event: Event) -> int | None:
        if not self.positions:
            self.positions.update((id(e), i) for i, e in enumerate(self.events))
        return self.positions.get(id(event))

    def outside(self, inner: Function, outer: Function) -> list[int]:
        """The positions of the statements that ran in `outer` (one of the
        functions on their way) and not inside `inner` called from there."""
        found = self._returns.get((inner, outer))
        if found is None:
            found = self._returns[(inner, outer)] = []
            for position, event in enumerate(self.events):
                functions = [(line.path, line.function) for line in lines_of(event)]
                if outer in functions and inner not in functions[: functions.index(outer)]:
                    found.append(position)
        return found


_TIMELINE: ContextVar[_Timeline | None] = ContextVar("djperf_timeline", default=None)


@contextmanager
def judging(statements: Sequence[Event]) -> Iterator[None]:
    """While the rules judge a recording: its statements, in order."""
    token = _TIMELINE.set(_Timeline(statements))
    try:
        with remembering():
            yield
    finally:
        _TIMELINE.reset(token)


def lines_of(query: Event) -> tuple[Location, ...]:
    """The query's own line and the user lines outward that led to it."""
    if query.location is None:
        return ()
    if query.caller is None:
        return (query.location,)
    return (query.location, query.caller, *query.outer)


def repeating_loop(queries: Sequence[Event], *, beyond: int = 0) -> Loop | None:
    """The loop that repeated `queries`: for each, the innermost line on the
    way to it (from `beyond` calls out: 1 for a loop outside the function
    of the queries' line) that sits in a loop of its function; the one most of them
    share (an importer's first row written before its loop over the rest is
    not where the rows repeat). None when no line djperf saw is in a loop,
    when one on the way cannot be read (a template's, a file not found: the
    loop may be there), when the way reaches test code first (the test's
    loop is test-driven repetition, judged elsewhere), or when no loop is
    shared by more than half of them."""
    if not queries:
        return None
    # Keyed by the loop statement: one loop whose body calls the helper from
    # two lines (a while with an if in it) is one loop, not two halves.
    found: dict[tuple[str, str, int], tuple[int, Loop, set[Location]]] = {}
    for query in queries:
        loop = _innermost_loop(lines_of(query), beyond)
        if loop is not None:
            line = loop.line
            key = (line.path, line.function, loop_line(line) or line.line)
            count, first, calls = found.get(key, (0, loop, set()))
            found[key] = (count + 1, first, calls | {line})
    if not found:
        return None
    (path, function, start), (count, loop, calls) = max(
        found.items(), key=lambda entry: entry[1][0]
    )
    if count * 2 <= len(queries):
        return None
    if _one_pass_per_call(queries, loop.depth):
        # The loop's function returned between the repeats: look further out.
        return repeating_loop(queries, beyond=loop.depth + 1)
    if len(calls) > 1:
        # Several lines of the loop: the loop is named by its own first line.
        return Loop(Location(path, start, function), loop.depth, loop.through)
    return loop


def _one_pass_per_call(queries: Sequence[Event], depth: int) -> bool:
    """Whether, between most two repeats in a row, a statement ran in the
    function that calls the function of the loop (`depth` calls out) and not
    inside it: that function returned and was called again. False when
    nothing ran between, or djperf cannot tell."""
    timeline = _TIMELINE.get()
    if timeline is None or len(queries) < 2:
        return False
    placed = sorted(
        (
            (position, query)
            for query in queries
            if (position := timeline.position(query)) is not None
        ),
        key=lambda entry: entry[0],
    )
    if len(placed) < 2:
        return False
    left = 0
    for (start, query), (end, _) in pairwise(placed):
        lines = lines_of(query)
        if depth + 1 >= len(lines):
            return False
        inner = (lines[depth].path, lines[depth].function)
        outer = (lines[depth + 1].path, lines[depth + 1].function)
        if inner == outer:
            return False  # a recursive call: no telling which frame is which
        returned = timeline.outside(inner, outer)
        after = bisect_right(returned, start)
        if after < len(returned) and returned[after] < end:
            left += 1
    return left * 2 > len(placed) - 1


def _innermost_loop(lines: tuple[Location, ...], beyond: int) -> Loop | None:
    for depth, line in enumerate(lines):
        if depth < beyond:
            continue
        if depth and in_test_code(line):
            return None
        looped = in_a_loop(line)
        if looped is None:
            return None
        if looped:
            return Loop(line, depth, tuple(reversed(lines[1:depth])))
    return None


class CalledAgain(NamedTuple):
    """The function a loop is in, called again: by whom."""

    function: str  # "is_satisfied()", or "that loop" for a template's
    # The lines that tell the calls apart: those that called it, or further
    # out, where the ways to it first differ.
    callers: list[Location]
    # Whether `callers` are the lines that called it (not lines further out).
    direct: bool


def loop_called_again(events: Sequence[Event], loop: Loop) -> CalledAgain | None:
    """The function `loop` is in and the lines that called it, when the
    events came to it by more than one way: that function was itself called
    again (by other lines, as oscar's is_satisfied() by an offer's apply and
    consume stages), or some events came from elsewhere. A value kept in
    that function lives one call: the repeats from the other calls are
    still sent. None when every event came the same way (one call of the
    loop's function, or calls from one line that djperf cannot tell
    apart). A comprehension's loop is its enclosing function's."""
    ways: set[tuple[Location, ...] | None] = set()
    function: Location | None = None
    for event in events:
        lines = lines_of(event)
        depth = loop.depth
        if not (
            len(lines) > depth
            and (lines[depth].path, lines[depth].function) == (loop.line.path, loop.line.function)
        ):
            ways.add(None)
            continue
        while lines[depth].function.startswith("<") and depth + 1 < len(lines):
            if lines[depth].function == "<module>" or lines[depth + 1].path != lines[depth].path:
                break
            depth += 1  # (a comprehension's frame: its function is the next out)
        function = function or lines[depth]
        ways.add(lines[depth + 1 :])
    if len(ways) < 2 or function is None:
        return None
    named = f"{function.function}()" if function.path.endswith(".py") else "that loop"
    return CalledAgain(named, *_where_they_part(ways))


def _where_they_part(ways: set[tuple[Location, ...] | None]) -> tuple[list[Location], bool]:
    """The lines at the first step out where the ways differ (an offer's
    apply and consume stages, both calling through the same
    can_apply_condition() line): what tells the calls apart."""
    known = [way for way in ways if way]
    for step in range(max((len(way) for way in known), default=0)):
        lines = {way[step] for way in known if len(way) > step}
        if len(lines) > 1:
            return sorted(lines, key=str), step == 0
    return sorted({way[0] for way in known}, key=str), True


def called_from(again: CalledAgain) -> str:
    """ "is_satisfied() is itself called from more than one place (a.py:3,
    b.py:9)": the calls of a loop's function, as the fixes name them."""
    if len(again.callers) > 1:
        listed = again.callers[:4]
        shown = ", ".join(map(str, listed)) + (" ..." if len(again.callers) > 4 else "")
        if again.direct:
            return f"{again.function} is itself called from more than one place ({shown})"
        return f"{again.function} is itself called again, by way of more than one place ({shown})"
    return f"{again.function} is itself called more than once"


def reached_unnamed(event: Event, upto: int) -> int | None:
    """The index i (below `upto`) of the first line of `event` (`lines_of`)
    whose function was reached from the next line out through code not of
    the project's, and which that line does not name: Django, a library or
    Python called it on the way (a widget's get_context() under a
    template's ``{{ field }}``, a mapping's ``__iter__`` under Django's
    reverse() comparing URL arguments). No argument of the project's can
    carry a value into it. None when every step is a call the project
    wrote (through a decorator's wrapper, it still names the function), or
    cannot be read."""
    crossed: int = getattr(event, "crossed", 0)
    if not crossed:
        return None
    lines = lines_of(event)
    for index in range(min(upto, len(lines) - 1)):
        callee, caller = lines[index], lines[index + 1]
        if (
            crossed >> index & 1
            and not in_test_code(callee)
            and names(caller, callee.function) is False
            # (A save() under create(), a receiver under save(): an ORM
            # write, whose values the caller gives. Judged elsewhere.)
            and not any(call in source_line(caller) for call in (*_WRITE_CALLS, "_create("))
        ):
            return index
    return None


def separate_calls(queries: Sequence[Event]) -> bool:
    """Whether no loop repeated `queries`: the whole way to each of them was
    seen (it ends at a template's line, where the walk stops) and no line on
    it is in a loop. A template tag or a property used at several places of
    a page: the calls are separate, and only the view knows every value."""
    for query in queries:
        lines = lines_of(query)
        if not lines or lines[-1].path.endswith(".py"):
            return False
        if any(in_a_loop(line) is not False for line in lines):
            return False
    return True


def holder(loop: Loop) -> str:
    """Where a value kept for the loop lives: "in _import()", or "around
    that loop" for a comprehension's or a template's."""
    function = loop.line.function
    if loop.line.path.endswith(".py") and not function.startswith("<"):
        return f"in {function}()"
    return "around that loop"


def described(loop: Loop, start: Location) -> str:
    """Where the loop is, as the fixes name it: "the loop at views.py:40 in
    index()" for the line that calls the function of `start`; further out,
    "the loop at importers.py:100 in _import(), 2 calls out from
    categories.py:27 (through create_from_breadcrumbs() at categories.py:47)"."""
    text = f"the loop at {loop.line}"
    if loop.line.path.endswith(".py") and not loop.line.function.startswith("<"):
        # (Not a comprehension's own frame, nor a template's tag.)
        text += f" in {loop.line.function}()"
    if loop.depth <= 1:
        return text
    text += f", {loop.depth} calls out from {start}"
    if loop.through:
        steps = ", ".join(f"{line.function}() at {line}" for line in loop.through)
        text += f" (through {steps})"
    return text


def sent_at(event: Event, start: int = 0) -> int | None:
    """The stack walk's `Query.sent`, counted from the line `start` calls
    out (None for events that do not carry it, or a hop inside `start`)."""
    sent: int | None = getattr(event, "sent", None)
    return None if sent is None or sent < start else sent - start


def runs_per_write(events: Sequence[Event], loop: Loop | None) -> int | None:
    """The index, on the first event's lines, of a function the stack walk
    saw run inside a save or a signal (`sent_at`), when every event saw the
    same one, a user line made that write, and the loop that repeats them
    (if djperf saw one) is outside that function: the events repeat across
    writes, one run each. A receiver's own loop is no repeat of its runs."""
    hops = {sent_at(event) for event in events}
    if len(hops) != 1:
        return None
    (hop,) = hops
    if hop is None or hop >= len(lines_of(events[0])) - 1:
        return None
    if loop is not None and loop.depth <= hop:
        return None
    return hop


def write_hop(
    lines: Sequence[Location], upto: int | None = None, sent: int | None = None
) -> int | None:
    """Where, on the way out from the first of `lines` (up to `upto`), a
    function ran inside an ORM write or a signal rather than being called:
    the index i such that the line ``lines[i + 1]`` saves, creates, deletes
    or sends a signal (a post_save receiver under ``book.save()`` or under a
    hand-sent ``post_save.send(...)``, a save() override under
    ``create()``). Such a function runs once per write and hands nothing
    back to the loop. `sent` is the index the stack walk saw (a Signal.send()
    or save_base() frame crossed: a receiver under treebeard's add_child(),
    whose line says no save); else the lines are read: the caller line
    writes and does not name the function of ``lines[i]``."""
    last = len(lines) - 1 if upto is None else min(upto, len(lines) - 1)
    if sent is not None and 0 <= sent < last:
        last = sent
        found: int | None = sent
    else:
        found = None
    for index in range(last):
        caller = lines[index + 1]
        if not caller.path.endswith(".py"):
            return None
        text = source_line(caller)
        name = lines[index].function
        if name not in text and any(call in text for call in _WRITE_CALLS):
            return index
    return found


_WRITE_CALLS = (
    ".save(",
    ".create(",
    ".delete(",
    ".add(",
    ".remove(",
    ".set(",
    ".send(",
    ".send_robust(",
)
