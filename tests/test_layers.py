"""The package's floors import only downward, and no import cycle holds it together.

Floors, lowest first (docs/architecture.md):

    ground     djperf.findings, conf, _format, _errors: plain data and settings
    record     events, scopes, SQL fingerprints, stacks, tags: what a capture holds
    hooks      djperf.record.hooks.*: what fills it
    detect     the rule registry, its helpers and one module per rule
    composed   djperf._capture (record + detect), djperf.verification
    consumers  the package's public face, the report, the CLI, the app

A module imports its own floor or lower ones. Imports are read from the source
with ast (a function-level import counts like a module-level one); for the
layers, imports under ``if TYPE_CHECKING:`` count too, since a lower floor
should not need an upper floor's types; for cycles they do not, since they
never run. The implicit import of a module's parent packages is not an edge
(every submodule has it; a package __init__ importing its own submodules is
the usual pattern, not a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

FLOORS: list[tuple[str, tuple[str, ...]]] = [
    ("ground", ("djperf.findings", "djperf.conf", "djperf._format", "djperf._errors")),
    # Batch work needs Django's ORM and nothing else of djperf's.
    ("batch", ("djperf.batch", "djperf.batch.*")),
    (
        "record",
        (
            "djperf.record",
            "djperf.record.events",
            "djperf.record.rewrite",
            "djperf.record.scope",
            "djperf.record.sql",
            "djperf.record.stack",
            "djperf.record.tags",
            "djperf.record.work",
        ),
    ),
    ("hooks", ("djperf.record.hooks", "djperf.record.hooks.*")),
    ("detect", ("djperf.detect", "djperf.detect.*")),
    ("composed", ("djperf._capture", "djperf.verification", "djperf.verification.*")),
    (
        "consumers",
        (
            "djperf",
            "djperf.__main__",
            "djperf.apps",
            "djperf.cli",
            "djperf.report",
            "djperf.testing",
            "djperf.testing.*",
        ),
    ),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted((SRC / "djperf").rglob("*.py"))}


def floor(module: str) -> int:
    for number, (_, patterns) in enumerate(FLOORS):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return number
    raise AssertionError(
        f"{module} is on no floor: add it to FLOORS in tests/test_layers.py "
        "and to the floors in docs/architecture.md"
    )


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(module: str, *, typing_only: bool) -> set[str]:
    """The djperf modules `module` imports (with `typing_only`, also those it
    imports only for type checking)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node) and not typing_only:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return {name for name in found if name in MODULES and name != module}


def test_every_module_is_on_a_floor():
    for module in MODULES:
        floor(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_only_downward(module):
    upward = {
        imported: FLOORS[floor(imported)][0]
        for imported in imports(module, typing_only=True)
        if floor(imported) > floor(module)
    }
    assert not upward, f"{module} ({FLOORS[floor(module)][0]}) imports a higher floor: {upward}"


def test_no_import_cycle():
    graph = {module: imports(module, typing_only=False) for module in MODULES}
    cycles = [component for component in _strongly_connected(graph) if len(component) > 1]
    assert not cycles, f"import cycles: {cycles}"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def test_the_checks_see_a_cycle_and_an_upward_import():
    """The checks themselves: they find what they look for."""
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"],
        ["d"],
    ]
    assert "djperf.record.scope" in imports("djperf.record.hooks.db", typing_only=False)
    assert "djperf.detect.registry" in imports("djperf._capture", typing_only=False)
    assert floor("djperf.detect.registry") > floor("djperf.record.scope")
