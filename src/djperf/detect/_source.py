"""The user's own source at a finding's line: what a fix can rewrite exactly.

A fix written from the statement the user wrote is right as written, where
one written from the SQL can only guess (the values of a filter are not
kept). Files are parsed once each, and only when a finding asks.
"""

from __future__ import annotations

import ast
import copy
import functools
import linecache
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from djperf import conf
from djperf.findings import Location

# (function, file, when it last changed, location, arguments) -> its answer:
# the questions the rules ask of a line depend on the file's text alone, and
# a long capture asks them once per repeated event. Bounded, and cleared when
# full, like the parse cache.
_answers: dict[tuple[Any, ...], Any] = {}
_ANSWERS = 8192
_Question = TypeVar("_Question", bound=Callable[..., Any])


def _per_line(question: _Question) -> _Question:
    """Answer `question(location, *args)` once per version of the file."""

    @functools.wraps(question)
    def asked(location: Location, *args: Any) -> Any:
        changed = _changed(location)
        if changed is None:
            return question(location, *args)
        key = (question, changed, location, args)
        if key in _answers:
            answer = _answers[key]
        else:
            if len(_answers) >= _ANSWERS:
                _answers.clear()
            answer = _answers[key] = question(location, *args)
        # A caller may change a list or dict it was given: never the kept one.
        return copy.copy(answer) if isinstance(answer, (list, dict)) else answer

    return asked  # type: ignore[return-value]


# Calls that take a related object only to compare or store its key.
_KEYED_CALLS = frozenset(
    {
        "filter",
        "exclude",
        "get",
        "create",
        "get_or_create",
        "update_or_create",
        "update",
        "aget",
        "acreate",
        "aget_or_create",
        "aupdate_or_create",
        "aupdate",
    }
)


@_per_line
def key_only_rewrite(location: Location, field: str, attname: str, pk: str) -> str | None:
    """The line at `location` with every read of ``<x>.<field>`` replaced by
    ``<x>.<attname>``, when each of them uses the related object only for its
    key: as a keyword argument of a queryset call (``filter(child=self.child)``)
    or through its primary key (``self.child.pk``). None when any read uses
    the object itself, or the source cannot be read."""
    parsed = _module_at(location)
    if parsed is None or not 0 < location.line <= len(parsed[1]):
        return None
    # (ast's column offsets count UTF-8 bytes.)
    tree, lines = parsed
    text = lines[location.line - 1]
    reads = [
        node
        for node in _nodes_at(tree, location.line)
        if isinstance(node, ast.Attribute)
        and node.attr == field
        and node.lineno == location.line
        and node.end_lineno == location.line
    ]
    if not reads:
        return None
    parents = _parents(tree, location.line)
    replacements: list[tuple[int, int, bytes]] = []
    for node in reads:
        parent = parents.get(id(node))
        base = text[node.value.col_offset : node.value.end_col_offset].decode()
        if isinstance(parent, ast.Attribute) and parent.attr in ("pk", pk):
            start, end = node.col_offset, parent.end_col_offset
        elif isinstance(parent, ast.keyword) and _keyed_call(parents.get(id(parent))):
            start, end = node.col_offset, node.end_col_offset
        else:
            return None
        if end is None:
            return None
        replacements.append((start, end, f"{base}.{attname}".encode()))
    # The statement alone when it is on this line (no comment after it).
    statement = next(
        (
            node
            for node in _nodes_at(tree, location.line)
            if isinstance(node, ast.stmt)
            and node.lineno == node.end_lineno == location.line
            and not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        ),
        None,
    )
    start_at, end_at = 0, len(text)
    if statement is not None and statement.end_col_offset is not None:
        start_at, end_at = statement.col_offset, statement.end_col_offset
    rewritten = text
    for start, end, new in sorted(replacements, reverse=True):
        rewritten = rewritten[:start] + new + rewritten[end:]
        end_at += len(new) - (end - start)
    return rewritten[start_at:end_at].decode().strip()


# Simple statements a queryset expression is written in, over several lines.
_SIMPLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return)


def _span(tree: ast.AST, line: int) -> tuple[int, int]:
    """The lines of the simple statement `line` is in (a list comprehension
    over a queryset written across lines reports its first line), else the
    line alone."""
    found = (line, line)
    for node in _nodes_at(tree, line):
        if (
            isinstance(node, _SIMPLE)
            and node.end_lineno is not None
            and node.lineno <= line <= node.end_lineno
            and node.end_lineno - node.lineno <= 12
            and (found == (line, line) or node.lineno >= found[0])
        ):
            found = (node.lineno, node.end_lineno)
    return found


def _within(node: ast.AST, span: tuple[int, int]) -> bool:
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    return start is not None and end is not None and span[0] <= start and end <= span[1]


def _keyed_call(node: ast.AST | None) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _KEYED_CALLS
    )


def _nodes_at(tree: ast.AST, line: int) -> list[ast.AST]:
    """The nodes that overlap `line` (and those without lines between),
    outer first: not the whole module."""
    found: list[ast.AST] = []
    pending = deque([tree])
    while pending:
        node = pending.popleft()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            start = getattr(child, "lineno", None)
            end = getattr(child, "end_lineno", None)
            if start is None or end is None or start <= line <= end:
                pending.append(child)
    return found


def _parents(tree: ast.AST, line: int, last: int | None = None) -> dict[int, ast.AST]:
    """Each node's parent, for the nodes overlapping lines `line` to `last`."""
    last = line if last is None else last
    found: dict[int, ast.AST] = {}
    # Only into the nodes that overlap the lines: a finding in a long module
    # must not walk all of it (oscar's models module: 24 ms a walk).
    pending = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            found[id(child)] = node
            start = getattr(child, "lineno", None)
            end = getattr(child, "end_lineno", None)
            if start is None or end is None or not (end < line or start > last):
                pending.append(child)
    return found


def _absolute(path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(str(conf.root()), path)


@lru_cache(maxsize=64)
def _parse(path: str, changed: int) -> tuple[ast.Module, list[bytes]] | None:
    """The module at `path` as last changed at `changed`, parsed once, and
    its lines; None when it is not Python source."""
    if not path.endswith(".py"):
        return None
    try:
        with open(path, "rb") as source:
            data = source.read()
        return ast.parse(data, filename=path), data.splitlines()
    except (OSError, SyntaxError, ValueError):
        return None


def source_line(location: Location) -> str:
    """The text of the line at `location` ("" when it cannot be read)."""
    return linecache.getline(_absolute(location.path), location.line)


@_per_line
def names(location: Location, name: str) -> bool | None:
    """Whether the statement at `location` (a template's line, or the whole
    Python statement the line is in) names `name` as a word: a call of a
    function of that name, a read of a property. None when it cannot be
    read."""
    parsed = _module_at(location) if location.path.endswith(".py") else None
    if parsed is not None:
        tree, lines = parsed
        start, end = _span(tree, location.line)
        text = b"\n".join(lines[start - 1 : end]).decode(errors="replace")
    else:
        text = source_line(location)
    if not text:
        return None
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


# While the rules judge one recording (`remembering`): what was asked of the
# source already. A long capture asks about the same few lines once per
# repeated event; the files do not change while the rules run.
_RUN: ContextVar[dict[Any, Any] | None] = ContextVar("djperf_source_run", default=None)


@contextmanager
def remembering() -> Iterator[None]:
    """Answer each question about a file or a line once, until the block ends."""
    token = _RUN.set({})
    try:
        yield
    finally:
        _RUN.reset(token)


def _changed(location: Location) -> tuple[str, int] | None:
    """The file at `location` and when it last changed (the cache key of
    what is read from it), or None when it cannot be read."""
    run = _RUN.get()
    key = ("changed", location.path)
    if run is not None and key in run:
        found: tuple[str, int] | None = run[key]
        return found
    path = _absolute(location.path)
    try:
        found = path, os.stat(path).st_mtime_ns
    except OSError:
        found = None
    if run is not None:
        run[key] = found
    return found


def _module_at(location: Location) -> tuple[ast.Module, list[bytes]] | None:
    """The parsed module at `location` and its lines (see `_parse`)."""
    changed = _changed(location)
    return _parse(*changed) if changed is not None else None


# Queryset methods that narrow rows: what a Prefetch queryset must keep.
_NARROWING = frozenset({"filter", "exclude"})


@_per_line
def narrowing_calls(location: Location, manager: str) -> str | None:
    """The ``.filter(...)`` and ``.exclude(...)`` calls chained on the related
    manager ``<x>.<manager>`` at `location`, as the user wrote them
    (``.filter(status="open")``), when each value is one that means the same
    anywhere in the module: a literal, or a name the module defines or
    imports (``Line.OPEN``, ``timezone.now()``). None when there are none, or
    one depends on the loop (``.filter(user=order.user)``)."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, lines = parsed
    parents = _parents(tree, location.line)
    known = _module_names(tree)
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Attribute)
            and node.attr == manager
            and node.lineno <= location.line <= (node.end_lineno or node.lineno)
        ):
            continue
        calls: list[str] = []
        for method, call in _chained_calls(node, parents):
            if method.attr in _NARROWING:
                if call.args or not all(_constant(k.value, known) for k in call.keywords):
                    return None
                segment = _segment(lines, method.end_lineno, method.end_col_offset, call)
                if segment is None:
                    return None
                calls.append(f".{method.attr}{segment}")
        if calls:
            return "".join(calls)
    return None


def _chained_calls(
    node: ast.AST, parents: dict[int, ast.AST]
) -> Iterator[tuple[ast.Attribute, ast.Call]]:
    """The method calls chained after `node`, in order: for
    ``Book.objects.filter(...).order_by('x').first()`` from the filter
    call, (order_by, its call), then (first, its call)."""
    current = node
    while True:
        method = parents.get(id(current))
        call = parents.get(id(method))
        if not (
            isinstance(method, ast.Attribute) and isinstance(call, ast.Call) and call.func is method
        ):
            return
        yield method, call
        current = call


def _segment(
    lines: list[bytes], line: int | None, column: int | None, call: ast.Call
) -> str | None:
    """The source of a call's parentheses, from the end of its method name."""
    if line is None or column is None or call.end_lineno is None or call.end_col_offset is None:
        return None
    if line == call.end_lineno:
        return lines[line - 1][column : call.end_col_offset].decode()
    parts = [lines[line - 1][column:]]
    parts += lines[line : call.end_lineno - 1]
    parts.append(lines[call.end_lineno - 1][: call.end_col_offset])
    joined = " ".join(part.decode().strip() for part in parts)
    # As one line: no space inside the brackets, none before a comma.
    return re.sub(r"([(\[]) | ([)\],])", r"\1\2", joined)


def _constant(node: ast.AST, known: frozenset[str]) -> bool:
    """Whether the value means the same wherever the module builds a queryset."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(_constant(item, known) for item in node.elts)
    if isinstance(node, ast.Attribute):
        return _constant(node.value, known)
    if isinstance(node, ast.Name):
        return node.id in known
    if isinstance(node, ast.Call):
        return (
            _constant(node.func, known)
            and all(_constant(arg, known) for arg in node.args)
            and all(_constant(k.value, known) for k in node.keywords)
        )
    if isinstance(node, ast.UnaryOp):
        return _constant(node.operand, known)
    return False


def _module_names(tree: ast.Module) -> frozenset[str]:
    """The names a module imports or defines at its top level."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return frozenset(names)


@_per_line
def constant_keywords(location: Location) -> dict[str, str]:
    """The keyword arguments of the queryset calls at `location` whose values
    mean the same anywhere in the module (see `narrowing_calls`), as written:
    ``{"status": '"f"', "is_active": "True"}``."""
    parsed = _module_at(location)
    if parsed is None:
        return {}
    tree, lines = parsed
    known = _module_names(tree)
    span = _span(tree, location.line)
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _within(node, span) and _keyed_call(node):
            for keyword in node.keywords:
                value = keyword.value
                if (
                    keyword.arg is not None
                    and _constant(value, known)
                    and value.lineno == value.end_lineno
                    and value.end_col_offset is not None
                ):
                    line = lines[value.lineno - 1]
                    found[keyword.arg] = line[value.col_offset : value.end_col_offset].decode()
    return found


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


class _Shape(NamedTuple):
    """What a module's functions and loops are, line by line: built once
    per file (a finding per line must not walk the whole tree each time)."""

    # (first line, last line, "property", "cached_property" or "") of every
    # function: how it is read.
    functions: tuple[tuple[int, int, str], ...]
    # (first line, last line, first line of the function it is in, first
    # line of the loop) of every part of a loop that runs once per pass: a
    # for's body, a while, a comprehension's element and conditions (not its
    # first iterable, nor what a for iterates over: those run once, before
    # the loop).
    repeating: tuple[tuple[int, int, int, int], ...]


# Small (two tuples of line numbers per file), so many are kept: the fixes
# read the loops of every file on the way to a repeated query, and a test
# suite walks through hundreds.
@lru_cache(maxsize=1024)
def _shape(path: str, changed: int) -> _Shape | None:
    parsed = _parse(path, changed)
    if parsed is None:
        return None
    functions: list[tuple[int, int, str]] = []
    repeating: list[tuple[int, int, int, int]] = []

    def span(node: ast.AST, function: int, loop: ast.AST) -> None:
        start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        if start is not None and end is not None:
            repeating.append((start, end, function, getattr(loop, "lineno", start)))

    def visit(node: ast.AST, function: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _FUNCTIONS):
                functions.append(
                    (child.lineno, child.end_lineno or child.lineno, _property_kind(child))
                )
                visit(child, child.lineno)
                continue
            if isinstance(child, (ast.For, ast.AsyncFor)):
                for statement in (*child.body, *child.orelse):
                    span(statement, function, child)
            elif isinstance(child, ast.While):
                span(child, function, child)
            elif isinstance(child, _COMPREHENSIONS):
                parts: list[ast.AST] = (
                    [child.key, child.value] if isinstance(child, ast.DictComp) else [child.elt]
                )
                for number, generator in enumerate(child.generators):
                    parts += generator.ifs
                    if number:
                        parts += [generator.iter, generator.target]
                for piece in parts:
                    span(piece, function, child)
            visit(child, function)

    visit(parsed[0], 0)
    return _Shape(tuple(functions), tuple(repeating))


_PROPERTIES = ("property", "cached_property")


def _property_kind(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """ "property", "cached_property" (Django's or functools'), or ""."""
    for decorator in function.decorator_list:
        name = (
            decorator.id
            if isinstance(decorator, ast.Name)
            else decorator.attr
            if isinstance(decorator, ast.Attribute)
            else ""
        )
        if name in _PROPERTIES:
            return name
    return ""


def _shape_at(location: Location) -> _Shape | None:
    changed = _changed(location)
    return _shape(*changed) if changed is not None else None


def _function_at(shape: _Shape, line: int) -> tuple[int, int, str] | None:
    """The innermost function holding `line`, or None at module level."""
    holding = [f for f in shape.functions if f[0] <= line <= f[1]]
    return max(holding, key=lambda f: f[0]) if holding else None


# A template's loop tags (Django's and Jinja2's spelling).
_TEMPLATE_LOOP_TAGS = re.compile(r"{%-?\s*(for|empty|endfor)\b")


@lru_cache(maxsize=64)
def _template_loops(path: str, changed: int) -> tuple[tuple[int, int], ...] | None:
    """The (first line, last line) of every ``{% for %}`` block of the
    template at `path`; None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as source:
            text = source.read()
    except OSError:
        return None
    spans: list[tuple[int, int]] = []
    # The first line of each open loop's body; None after its {% empty %},
    # which runs once, when there is nothing to loop over.
    opened: list[int | None] = []
    for match in _TEMPLATE_LOOP_TAGS.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        tag = match.group(1)
        if tag == "for":
            opened.append(line)
        elif opened:
            start = opened.pop()
            if start is not None:
                spans.append((start, line))
            if tag == "empty":
                opened.append(None)
    return tuple(spans)


def _in_a_template_loop(location: Location) -> bool | None:
    """Whether a template's line is inside a ``{% for %}`` body (the tag's
    own iterable, read once, is not)."""
    changed = _changed(location)
    spans = _template_loops(*changed) if changed is not None else None
    if spans is None:
        return None
    line = location.line
    own_tag = location.function.startswith(("{% for ", "{%- for "))
    return any(
        start < line <= end or (start == line and not own_tag and line < end)
        for start, end in spans
    )


def in_a_loop(location: Location) -> bool | None:
    """Whether the line at `location` is inside a loop of its own function
    (a ``for``, a ``while``, a comprehension; in a template, a ``{% for %}``),
    so that one call of the function (one render) can run it several times;
    None when the source cannot tell (not found, not Python or a template)."""
    if not location.path.endswith(".py"):
        # A location outside Python source is a template's line (.html,
        # .txt, .md ... whatever the project renders).
        return _in_a_template_loop(location)
    around = _loops_around(location)
    return None if around is None else bool(around)


def loop_line(location: Location) -> int | None:
    """The first line of the innermost loop of its own function that the
    line at `location` is in (the ``while`` of an importer whose body calls
    one helper from two lines); None when it is in none, or the source
    cannot tell (a template's)."""
    around = _loops_around(location) if location.path.endswith(".py") else None
    return max(around)[1] if around else None


def _loops_around(location: Location) -> list[tuple[int, int]] | None:
    """(first line of the repeating part, first line of its loop) of every
    loop of the line's own function that the line is in; None when the
    source cannot be read."""
    run = _RUN.get()
    if run is None:
        return _find_loops_around(location)
    key = ("loops", location)
    if key not in run:
        run[key] = _find_loops_around(location)
    found: list[tuple[int, int]] | None = run[key]
    return found


@_per_line
def _find_loops_around(location: Location) -> list[tuple[int, int]] | None:
    shape = _shape_at(location)
    if shape is None:
        return None
    line = location.line
    function = _function_at(shape, line)
    owner = function[0] if function is not None else 0
    return [
        (start, loop)
        for start, end, of, loop in shape.repeating
        if start <= line <= end and of == owner
    ]


@_per_line
def probe_loop(location: Location) -> int | None:
    """The first line of the ``while`` loop the query at `location` tests to
    end, trying one candidate per pass until one is free: the loop's own
    condition (``while queryset.filter(slug=slug): slug = next``) or an
    ``if`` in its body that returns or breaks (``while True: code = draw();
    if not Voucher.objects.filter(code=code).exists(): return code``).
    None otherwise, or when the source cannot be read."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, _ = parsed
    line = location.line
    found: ast.While | None = None
    for node in _nodes_at(tree, line):
        if isinstance(node, _FUNCTIONS):
            found = None  # (a loop outside the line's own function is not its)
        elif isinstance(node, (ast.For, ast.AsyncFor, *_COMPREHENSIONS)):
            found = None
        elif isinstance(node, ast.While):
            found = node
    if found is None:
        return None
    if _spans(found.test, line):
        return found.lineno
    for statement in ast.walk(found):
        if (
            isinstance(statement, ast.If)
            and _spans(statement.test, line)
            and any(isinstance(s, (ast.Return, ast.Break)) for s in statement.body)
        ):
            return found.lineno
    return None


def _spans(node: ast.AST, line: int) -> bool:
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    return start is not None and end is not None and start <= line <= end


@_per_line
def used_after(location: Location) -> str | None:
    """What the code does next with the object the line at `location`
    created (``instance = Note.objects.create(...)`` then
    ``self._add_tags(instance)``): the first later statement of the same
    block that uses the name, as written, other than ``instance.save()``.
    A bulk_create fix must move that work after the bulk write, which is
    what gives the objects their keys. None when nothing uses it, or the
    source cannot tell."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, lines = parsed
    span = _span(tree, location.line)
    for block in ast.walk(tree):
        body = getattr(block, "body", None)
        if not isinstance(body, list):
            continue
        for index, statement in enumerate(body):
            if (statement.lineno, statement.end_lineno) != span:
                continue
            name = _written_name(statement)
            if name is None:
                continue
            # Every later statement of the block that uses it (an order
            # line's prices, attributes and discounts), not the first alone;
            # handing it back (``return item``) stays where it is.
            uses: list[str] = []
            for later in body[index + 1 :]:
                if _saves(later, name) or isinstance(later, ast.Return):
                    continue
                if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(later)):
                    if not isinstance(later, ast.Expr | ast.Assign):
                        return None
                    text = _source_of(lines, later.value if isinstance(later, ast.Expr) else later)
                    if text is None and isinstance(later, ast.Assign):
                        text = ast.unparse(later)
                    if text is None:
                        return None
                    uses.append(text)
            if not uses:
                return None
            shown = uses[:4] + (["..."] if len(uses) > 4 else [])
            return "; ".join(shown)
    return None


def _written_name(statement: ast.stmt) -> str | None:
    """The object a statement writes: ``x = Model.objects.create(...)`` or
    ``x.save()``."""
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return statement.targets[0].id
    if (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr == "save"
        and isinstance(statement.value.func.value, ast.Name)
    ):
        return statement.value.func.value.id
    return None


def _saves(statement: ast.stmt, name: str) -> bool:
    """``name.save(...)`` as a statement of its own."""
    call = statement.value if isinstance(statement, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "save"
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == name
    )


@_per_line
def counted_then_iterated(location: Location) -> tuple[str, int] | None:
    """``alerts.count()`` at `location`, then ``for alert in alerts:`` later in
    the same function: the name and the loop's line, when both statements
    are in the function's own body (not under an ``if``) with no return or
    raise between, so the loop loads the rows whenever the count runs.
    ``len(alerts)`` then loads them once, and the loop reads them again from
    the queryset's cache: no COUNT query."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, _ = parsed
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not (function.lineno <= location.line <= (function.end_lineno or 0)):
            continue
        body = function.body
        for index, statement in enumerate(body):
            if not (statement.lineno <= location.line <= (statement.end_lineno or 0)):
                continue
            name = _counted_name(statement, location.line)
            if name is None:
                return None
            for later in body[index + 1 :]:
                if isinstance(later, (ast.For, ast.AsyncFor)):
                    iterated = later.iter
                    if isinstance(iterated, ast.Name) and iterated.id == name:
                        return name, later.lineno
                if any(isinstance(node, (ast.Return, ast.Raise)) for node in ast.walk(later)):
                    return None
                if _assigns(later, name):
                    return None
            return None
    return None


def _counted_name(statement: ast.stmt, line: int) -> str | None:
    """The name whose ``.count()`` is called at `line` in `statement`."""
    for node in ast.walk(statement):
        if (
            isinstance(node, ast.Call)
            and node.lineno == line
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "count"
            and not node.args
            and isinstance(node.func.value, ast.Name)
        ):
            return node.func.value.id
    return None


def _assigns(statement: ast.stmt, name: str) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
        for node in ast.walk(statement)
    )


@_per_line
def cache_clearing_methods(location: Location) -> list[str]:
    """The methods of the class the line at `location` is in whose names say
    they drop the object's cached state (``invalidate_cached_queryset()``,
    ``reset_offer_applications()``, ``clear_cache()``): a value a
    cached_property keeps must be dropped there too."""
    parsed = _module_at(location)
    if parsed is None:
        return []
    tree, _ = parsed
    owner: ast.ClassDef | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        inside = node.lineno <= location.line <= (node.end_lineno or 0)
        if inside and (owner is None or node.lineno > owner.lineno):
            owner = node
    if owner is None:
        return []
    return [
        statement.name
        for statement in owner.body
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef))
        and statement.name.lstrip("_").startswith(_CLEARING)
    ]


_CLEARING = ("invalidate", "reset", "clear", "refresh", "flush")


def in_a_property(location: Location) -> bool:
    """Whether the line at `location` is in a function decorated with
    ``@property`` (read as an attribute, run again on every read)."""
    shape = _shape_at(location)
    if shape is None:
        return False
    function = _function_at(shape, location.line)
    return function is not None and function[2] == "property"


def in_a_cached_property(location: Location) -> bool:
    """Whether the line at `location` is in a function decorated with
    ``@cached_property``: it runs once per object, so running it again
    means another object."""
    shape = _shape_at(location)
    if shape is None:
        return False
    function = _function_at(shape, location.line)
    return function is not None and function[2] == "cached_property"


@_per_line
def constant_call_arguments(location: Location) -> bool | None:
    """Whether every argument of the keyed queryset call at `location`
    (``get_or_create(name="Books", defaults={...})``) means the same on every
    pass (see `narrowing_calls`); None when the source cannot tell."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, _ = parsed
    known = _module_names(tree)
    span = _span(tree, location.line)
    calls = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and _within(n, span) and _keyed_call(n)
    ]
    if not calls:
        return None
    return all(
        all(_constant(a, known) for a in call.args)
        and all(
            _constant(k.value, known)
            for k in call.keywords
            if k.arg not in ("defaults", "create_defaults")
        )
        for call in calls
    )


# What a related manager writes for one object per call.
_MANAGER_WRITES = frozenset({"add", "set", "remove", "clear"})


@_per_line
def manager_write(location: Location) -> tuple[str, str] | None:
    """``("tags", "add")`` when the statement at `location` calls a related
    manager's write on one object (``instance.tags.add(*tags)``), else None."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, _ = parsed
    span = _span(tree, location.line)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and _within(node, span)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _MANAGER_WRITES
            and isinstance(node.func.value, ast.Attribute)
        ):
            return node.func.value.attr, node.func.attr
    return None


# Calls that shape what a queryset loads, which a batched form must keep.
_SHAPING = ("select_related", "prefetch_related", "only", "defer", "values", "values_list")


@_per_line
def shaping_calls(location: Location) -> str:
    """The ``.select_related(...)``, ``.prefetch_related(...)``, ``.only(...)``,
    ``.defer(...)``, ``.values(...)`` and ``.values_list(...)`` calls of the
    queryset built at `location`, as written, in order; "" when there are
    none or one of them takes a value that depends on the loop."""
    parsed = _module_at(location)
    if parsed is None:
        return ""
    tree, lines = parsed
    known = _module_names(tree)
    span = _span(tree, location.line)
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _SHAPING
            and _within(node, span)
        ):
            continue
        if not all(_constant(a, known) for a in node.args) or not all(
            _constant(k.value, known) for k in node.keywords
        ):
            return ""
        segment = _segment(lines, node.func.end_lineno, node.func.end_col_offset, node)
        if segment is None:
            return ""
        found.append(
            (
                node.func.end_lineno or 0,
                node.func.end_col_offset or 0,
                f".{node.func.attr}{segment}",
            )
        )
    return "".join(text for _, _, text in sorted(found))


# Calls that end a queryset expression with one row, a test or a count.
_TERMINAL = frozenset({"exists", "first", "last", "get", "count", "aexists", "afirst", "aget"})
# Calls between the filter and the end that a batched query keeps as written.
_KEPT = frozenset(
    {
        "select_related",
        "prefetch_related",
        "only",
        "defer",
        "values",
        "values_list",
        "order_by",
        "distinct",
        "filter",
        "exclude",
        "all",
    }
)


def batched_rewrite(
    location: Location, keys: dict[str, str], *, from_managers: bool = False
) -> str | None:
    """The queryset expression at `location`, when it starts from something
    other than a model's manager, rewritten to take all the loop's values at
    once: ``self.product_queryset.filter(id=product.id).exists()``
    becomes ``present = set(self.product_queryset.filter(id__in=values)
    .values_list('id', flat=True))``. `keys` maps each keyword spelling of a
    field of the model (``author``, ``author_id``, ``pk``) to the attribute
    to read back (``author_id``). None when the line is not one
    filter()/get() call with exactly one keyword taking a value from the
    loop, or it ends in a way the batch cannot keep (``first()`` after an
    ordering, a slice). With `from_managers`, a model's manager is a base too,
    and the varying keyword may be a path through a relation
    (``parent__includes=self``) for an ``exists()`` or ``count()``: what the
    SQL alone could not name."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, lines = parsed
    known = _module_names(tree)
    span = _span(tree, location.line)
    parents = _parents(tree, *span)
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("filter", "get", "aget")
            and _within(node, span)
            and not node.args
        ):
            continue
        varying = [k for k in node.keywords if not _constant(k.value, known)]
        spelled = varying[0].arg if len(varying) == 1 else None
        if spelled is None:
            continue
        spelled = spelled.removesuffix("__exact")
        through = spelled not in keys
        if through and not (from_managers and spelled.split("__")[0] in keys):
            continue
        key = spelled if through else keys[spelled]
        base = _source_of(lines, node.func.value)
        if base is None or (_MANAGER.match(base) and not from_managers):
            # Model.objects...: the batch written from the SQL says the same.
            return None
        kept = []
        for keyword in node.keywords:
            if keyword is varying[0]:
                kept.append(f"{spelled}__in=values")
            else:
                value = _source_of(lines, keyword.value)
                if value is None or keyword.arg is None:
                    return None
                kept.append(f"{keyword.arg}={value}")
        text = f"{base}.filter({', '.join(kept)})"
        ending = "get" if node.func.attr in ("get", "aget") else None
        for method, call in _chained_calls(node, parents) if ending is None else ():
            if method.attr in _TERMINAL:
                ending = method.attr.lstrip("a") if method.attr.startswith("a") else method.attr
                if call.args or call.keywords:
                    return None
                break
            if method.attr not in _KEPT or not all(_constant(a, known) for a in call.args):
                return None
            segment = _segment(lines, method.end_lineno, method.end_col_offset, call)
            if segment is None or not all(_constant(k.value, known) for k in call.keywords):
                return None
            if method.attr == "order_by":
                return None  # the first row per value is another query
            text += f".{method.attr}{segment}"
        if ending == "exists":
            return (
                f"present = set({text}.values_list({key!r}, flat=True))"
                f"  # then test: value in present"
            )
        if ending == "count":
            return (
                f"counts = dict({text}.values_list({key!r}).annotate(n=Count('pk')))"
                "  # then counts.get(value, 0)"
            )
        if ".values" in text or through:
            # Rows as dicts or tuples, or a key through a relation: no
            # attribute to look them up by.
            return None
        if ending in ("get", "first", "last"):
            return f"rows = {{row.{key}: row for row in {text}}}  # then rows.get(value)"
        return (
            f"for row in {text}: rows[row.{key}].append(row)"
            "  # rows = defaultdict(list) before it; then read rows[value]"
        )
    return None


# A model's manager, with calls on it ("Book.objects", "Book.objects.select_related('x')").
_MANAGER = re.compile(r"^[A-Za-z_][\w.]*\.objects(?:\.\w+\(.*\))*$")


def _source_of(lines: list[bytes], node: ast.AST) -> str | None:
    """The source of an expression on one line."""
    if not isinstance(node, ast.expr) or node.end_col_offset is None:
        return None
    if node.lineno != node.end_lineno:
        return None
    return lines[node.lineno - 1][node.col_offset : node.end_col_offset].decode()


def closing_parenthesis(text: str, start: int) -> int:
    """The index of the parenthesis closing the one at `start` in `text`."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(text) - 1


# The ways a method names its own row: ``self``, ``self.pk``, ``self.id``.
_SELF = re.compile(r"^self(?:\.(?:pk|id))?$")


@_per_line
def own_relation_query(location: Location) -> tuple[str, str, str] | None:
    """``Through.objects.select_related('release').filter(issue_id=self.id)``
    in a method of a class: the class's name, the keyword naming the object's
    own row (``issue_id``) and the queryset without it, as written
    (``Through.objects.select_related('release')``): the rows of the
    object's own reverse relation, which a prefetch serves. None unless the
    line is one ``Model.objects...filter()`` whose only keyword from the
    object is that one, its other values constant, and whose rows are
    iterated (no ``first()``, ``exists()``, ``count()`` ... after it)."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, lines = parsed
    nodes = _nodes_at(tree, location.line)
    classes = [node for node in nodes if isinstance(node, ast.ClassDef)]
    function = _innermost_function(nodes)
    if not classes or function is None or function not in classes[-1].body:
        return None
    known = _module_names(tree)
    span = _span(tree, location.line)
    parents = _parents(tree, *span)
    for node in ast.walk(function):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "filter"
            and _within(node, span)
            and not node.args
        ):
            continue
        own = [k for k in node.keywords if k.arg and _SELF.match(ast.unparse(k.value))]
        others = [k for k in node.keywords if k not in own]
        if len(own) != 1 or not all(k.arg and _constant(k.value, known) for k in others):
            return None
        # (Written across lines, as the formatter leaves a long chain: unparsed.)
        base = _source_of(lines, node.func.value) or ast.unparse(node.func.value)
        if not _MANAGER.match(base) or re.search(r"\bself\b", base):
            return None
        text = base
        if others:
            kept = [f"{k.arg}={_source_of(lines, k.value) or ast.unparse(k.value)}" for k in others]
            text += f".filter({', '.join(kept)})"
        for method, call in _chained_calls(node, parents):
            # (A prefetch's queryset cannot be values() or values_list().)
            if (
                method.attr not in _KEPT
                or method.attr.startswith("values")
                or not all(_constant(a, known) for a in call.args)
            ):
                return None
            if not all(_constant(k.value, known) for k in call.keywords):
                return None
            arguments = [ast.unparse(a) for a in call.args]
            arguments += [f"{k.arg}={ast.unparse(k.value)}" for k in call.keywords]
            text += f".{method.attr}({', '.join(arguments)})"
        keyword = own[0].arg
        assert keyword is not None
        return classes[-1].name, keyword, text
    return None


def _innermost_function(
    nodes: list[ast.AST],
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The innermost function among `nodes` (outer first, as _nodes_at gives them)."""
    functions = [n for n in nodes if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return functions[-1] if functions else None


@_per_line
def found_or_new(location: Location) -> str | None:
    """``item.save()`` where the function got ``item`` either from the
    database (``item = Product.objects.get(upc=upc)``) or made it new
    (``item = Product()``): an importer's row that updates what it finds and
    inserts the rest. The lookup as written, or None."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, lines = parsed
    nodes = _nodes_at(tree, location.line)
    function = _innermost_function(nodes)
    statements = [n for n in nodes if isinstance(n, ast.Expr) and n.lineno == location.line]
    name = _written_name(statements[-1]) if statements else None
    if function is None or name is None:
        return None
    found: str | None = None
    new = False
    for node in ast.walk(function):
        if not (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            continue
        call = node.value.func
        if isinstance(call, ast.Attribute) and call.attr in ("get", "first", "last"):
            found = found or _source_of(lines, node.value) or ast.unparse(node.value)
        elif isinstance(call, ast.Name) and call.id[:1].isupper():
            new = True
    return found if new else None


@_per_line
def counter_upsert(location: Location) -> tuple[int, int] | None:
    """``affected = rows.update(n=F('n') + 1)`` then ``if not affected:
    Model.objects.create(...)``: one row made or bumped per call, by hand.
    The lines of the update() and of the create(), when `location` is one
    of them."""
    parsed = _module_at(location)
    if parsed is None:
        return None
    tree, _ = parsed
    function = _innermost_function(_nodes_at(tree, location.line))
    if function is None:
        return None
    body = function.body
    for index, statement in enumerate(body):
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Attribute)
            and statement.value.func.attr == "update"
        ):
            continue
        name = statement.targets[0].id
        for later in body[index + 1 :]:
            if not (
                isinstance(later, ast.If)
                and isinstance(later.test, ast.UnaryOp)
                and isinstance(later.test.op, ast.Not)
                and isinstance(later.test.operand, ast.Name)
                and later.test.operand.id == name
            ):
                continue
            creates = [
                node.lineno
                for node in ast.walk(later)
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "create"
            ]
            if creates and location.line in (statement.lineno, creates[0]):
                return statement.lineno, creates[0]
    return None


def receiver_path(calls: list[Location], functions: list[str]) -> str | None:
    """How the object a method runs on is reached from the first line's
    function: each line in `calls` calls the method named at the same index
    of `functions` (``self.can_apply_condition(line)`` then
    ``self.range.contains_product(product)`` give ``self.range``). None when
    a call is not on `self` or an attribute path of it (a local's method:
    djperf cannot say what object that is)."""
    path = "self"
    for line, function in zip(calls, functions, strict=True):
        text = source_line(line)
        found = re.search(r"(?<![\w.])(self(?:\.\w+)*)\." + re.escape(function) + r"\(", text)
        if found is None:
            return None
        path += found.group(1)[len("self") :]
    return path
