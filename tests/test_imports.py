"""The import graph of ``loadtest/``: no cycle at run time, and the pure modules stay free of Locust.

Every ``import`` statement counts, at module level or inside a function (a lazy import is a run-time
edge too); only ``if TYPE_CHECKING:`` blocks are left out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "loadtest"


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, package: str) -> list[tuple[str, ...]]:
    """What ``tree`` imports, TYPE_CHECKING blocks aside: ``(module,)`` or ``(a, a.b)`` for ``from a import b``.

    ``from a import b`` imports the module ``a.b`` when there is one (not ``a``'s own code, which may be
    the package being initialised), else ``a`` for its attribute ``b``.
    """
    names: list[tuple[str, ...]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.extend((alias.name,) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.extend((base, f"{base}.{alias.name}") for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module → the loadtest modules it imports (a package's ``__init__`` counts as the package)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for imported in _imported(ast.parse(path.read_text()), package):
            target = imported[-1] if imported[-1] in modules else imported[0]
            if target in modules:
                edges.add(target)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_the_walker_finds_a_cycle_and_skips_type_checking_blocks() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import loadtest.x\nelse:\n    import loadtest.y\n"
        "def f():\n    from loadtest import z\n"
    )
    names = {n[-1] for n in _imported(tree, "loadtest")}
    assert "loadtest.x" not in names and "loadtest.y" in names and "loadtest.z" in names


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    assert "loadtest.harness.options" in graph["loadtest.harness.runtime"]
    assert "loadtest.harness.steps" in graph["loadtest.harness.options"]
    assert "loadtest.report" in graph["loadtest.bench"]  # imported inside a function


def test_no_import_cycle_in_loadtest() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize(
    "module",
    [
        "loadtest.harness.options",
        "loadtest.harness.steps",
        "loadtest.harness.values",
        "loadtest.harness.slo",
        "loadtest.harness.timeline",
        "loadtest.harness.pacing",
        "loadtest.harness.failures",
        "loadtest.harness.runlog",
        "loadtest.bench",
    ],
)
def test_pure_modules_do_not_import_locust_or_gevent(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'locust', 'gevent'})\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"{module} imports {proc.stdout.strip()}"
