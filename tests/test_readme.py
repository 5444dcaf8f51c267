"""The README starts with exactly two set-up-and-run commands, and `.ci/run` runs the second word for word."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _first_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None, "the README has no command block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_commands_bench_then_tests() -> None:
    commands = _first_block()
    assert len(commands) == 2, commands
    assert commands[0].endswith("loadtest bench")
    assert "pytest" in commands[1] and "'.[test]'" in commands[1]


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _first_block()[1] in ci
