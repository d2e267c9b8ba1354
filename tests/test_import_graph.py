"""The packages' import graph, read from the source: no module of ``noether`` or ``engine`` imports another that
imports it back (at module level or inside a function: both are cycles a reader has to untangle), and the layers
point one way: ``noether`` imports neither ``engine`` nor torch, and neither package imports the benchmarks."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("noether", "engine")


def module_files() -> dict[str, pathlib.Path]:
    """Every module of the packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            parts = list(file.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = file
    return found


MODULES = module_files()


def imported_names(name: str, file: pathlib.Path) -> set[str]:
    """Every dotted name the module imports, anywhere in it except under ``if TYPE_CHECKING:`` (annotations only).
    ``from package import submodule`` counts as importing the submodule alone."""
    package = name.split(".") if file.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(file.read_text(encoding="utf-8")))
    return found


GRAPH = {name: imported_names(name, file) for name, file in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node] & graph.keys()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_reader_finds_the_imports():
    """The graph is read right: known edges are there (a test of the test)."""
    assert "noether.core.config.converter" in GRAPH["noether.core.config.load"]
    assert "engine.data.batching" in GRAPH["engine.data.sampler"]
    assert "torch" in GRAPH["engine.optimizer"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    """No two modules import each other, directly or through others."""
    assert cycles({name: targets & MODULES.keys() for name, targets in GRAPH.items()}) == []


@pytest.mark.parametrize("name", [name for name in MODULES if name.split(".")[0] == "noether"])
def test_the_core_imports_neither_the_engine_nor_torch(name):
    """``noether`` is the pure layer."""
    assert sorted(target for target in GRAPH[name] if target.split(".")[0] in ("engine", "torch", "benchmarks")) == []


def test_no_package_imports_the_benchmarks():
    """Benchmarks sit on top; nothing in the packages depends on them."""
    assert sorted(name for name, targets in GRAPH.items() if any(t.split(".")[0] == "benchmarks" for t in targets)) == []
