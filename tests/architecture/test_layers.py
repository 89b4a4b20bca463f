"""The house rules of ../shared/ARCHITECTURE.md, checked on the code itself: imports only point down
`pcf -> connectors -> exchange -> webhooks -> lca_models`, and no module imports itself back through a circle
(counting the imports made at module load, inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("pcf", "connectors", "exchange", "webhooks", "lca_models")  # top to bottom


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, name: str, is_package: bool = False) -> set[str]:
    """Modules of ours that module `name` imports (absolute and relative, at any depth of its source)."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {module for module in found if module.split(".")[0] in LAYERS}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}
    return {name: {m for m in _imports(path.read_text(encoding="utf-8"), name, path.name == "__init__.py") if m in files}
            for name, path in files.items()}


GRAPH = _graph()


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down_the_layers(module):
    layer = LAYERS.index(module.split(".")[0])
    upward = sorted(m for m in GRAPH[module] if LAYERS.index(m.split(".")[0]) < layer)
    assert not upward, f"{module} imports upward: {', '.join(upward)}"


def test_no_import_cycles_between_packages():
    """Packages (a folder: `pcf.engine`, `exchange.node`, ...) form a graph without circles."""
    def package(module: str) -> str:
        return module if (ROOT / module.replace(".", "/")).is_dir() else module.rpartition(".")[0]

    edges: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        edges.setdefault(package(module), set()).update(package(t) for t in targets if package(t) != package(module))
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_the_check_sees_an_upward_import():
    """The checker itself resolves absolute and relative imports, inside functions too."""
    source = "from pcf.engine import Engine\nfrom .errors import ModelError\ndef f():\n    from ..pcf import cli\n"
    assert _imports(source, "lca_models.probe") >= {"pcf.engine", "lca_models.errors", "pcf.cli"}
