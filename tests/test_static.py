"""Static checks that CI runs with the suite: mypy over ``loadtest/`` (settings in pyproject.toml), ruff, and
the size of every Python file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_passes() -> None:
    proc = _run("mypy", "--no-error-summary")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_check_passes() -> None:
    proc = _run("ruff", "check", "--quiet", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_clean() -> None:
    proc = _run("ruff", "format", "--check", "--quiet", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


MAX_LINES = 500
"""Every Python file of ``loadtest/``, ``tests/`` and ``benchmarks/`` stays under this many lines."""


def test_every_python_file_is_under_500_lines() -> None:
    paths = sorted(p for top in ("loadtest", "tests", "benchmarks") for p in (ROOT / top).rglob("*.py"))
    assert len(paths) > 50, "the walk found almost no files: wrong root?"
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in paths
        if (n := len(p.read_text(encoding="utf-8").splitlines())) >= MAX_LINES
    }
    assert not long, f"files of {MAX_LINES} lines or more (split them by concern): {long}"
