"""Fixtures of the V1 server tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.procs import NODE_DIR


@pytest.fixture(scope="module")
def node_ws(node_modules: Path) -> Path:
    """The shared Node peers, with `ws` (added for V1) installed from the lock file."""
    if not (node_modules / "ws" / "package.json").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300)
    return node_modules
