"""The public surface of loadtest.openhands is explicit, and nothing below it imports Locust or the server."""

from __future__ import annotations

import ast
from pathlib import Path

import loadtest.openhands as oh

PKG = Path(oh.__file__).parent


def test_all_is_sorted_and_complete() -> None:
    assert len(set(oh.__all__)) == len(oh.__all__)  # order: ruff RUF022 (constants, classes, functions)
    public = {name for name in vars(oh) if not name.startswith("_")} - {"annotations"}
    modules = {p.stem for p in PKG.glob("*.py")} | {p.parent.name for p in PKG.glob("*/__init__.py")}  # v1/
    assert set(oh.__all__) == public - modules
    for name in ("Conversation", "ConversationConfig", "ConversationListener", "Turn", "ConnectResult",
                 "ReconnectResult", "RestClient", "RestResult", "classify", "EventKind"):  # fmt: skip
        assert name in oh.__all__


def test_no_forbidden_imports() -> None:
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("locust", "loadtest.server", "loadtest.harness")), (path.name, name)
