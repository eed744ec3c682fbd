"""The society package's modules depend on each other one way: no module imports, even inside a
function, a module that imports it back, and the engine knows nothing of how it is measured,
saved or run."""

from __future__ import annotations

import ast
from pathlib import Path

import sugarglass.society

PACKAGE = Path(sugarglass.society.__file__).parent


def imports_within_package() -> dict[str, set[str]]:
    """Module name -> the package's modules it imports, anywhere in its source."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                if node.level:  # relative: from . import x / from .x import y
                    module = "sugarglass.society" + (f".{node.module}" if node.module else "")
                if module == "sugarglass.society":
                    names |= {alias.name for alias in node.names}
                elif module.startswith("sugarglass.society."):
                    names.add(module.split(".")[2])
            elif isinstance(node, ast.Import):
                names |= {a.name.split(".")[2] for a in node.names if a.name.startswith("sugarglass.society.")}
        graph[path.stem] = {n for n in names if (PACKAGE / f"{n}.py").exists()} - {path.stem}
    return graph


def test_no_module_of_the_society_imports_back_one_that_imports_it():
    graph = imports_within_package()
    graph.pop("__init__")  # the package's front door imports everything and is imported by none
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join(path + (module,))}"
        if module in done:
            return
        for other in sorted(graph[module]):
            visit(other, path + (module,))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_the_engine_knows_nothing_of_metrics_checkpoints_or_runs():
    graph = imports_within_package()
    assert graph["engine"].isdisjoint({"metrics", "checkpoint", "simulate", "warm"}), graph["engine"]
