"""Sugarglass's modules depend one way: no module imports, at its top or inside a function, a
module that imports it back. (The command line once did: cli.py and garden_cli.py imported each
other; so did the society's engine, checkpoint and metrics.)"""

from __future__ import annotations

import ast
from pathlib import Path

import sugarglass

ROOT = Path(sugarglass.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its source. A module importing
    its own package (``from sugarglass.society import lifecycle`` inside the society) counts
    only the module it names."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
                found |= {t for t in (target, *(f"{target}.{a.name}" for a in node.names)) if t in modules}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in modules}
        graph[name] = {t for t in found if t != name and not name.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while (top := stack.pop()) != module:
                group.append(top)
            if group:
                found.append(sorted([module, *group]))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_anywhere_in_the_package():
    graph = import_graph()
    assert {"sugarglass.cli.common", "sugarglass.run", "sugarglass.society.engine"} <= set(graph)
    assert cycles(graph) == []


def test_the_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_each_command_module_imports_only_the_shared_part_of_the_command_line():
    graph = import_graph()
    for module, imports in graph.items():
        if module.startswith("sugarglass.cli.") and module != "sugarglass.cli.common":
            assert {m for m in imports if m.startswith("sugarglass.cli")} <= {"sugarglass.cli.common"}, module
