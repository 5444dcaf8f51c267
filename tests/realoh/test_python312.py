"""Finding Python 3.12 through pyenv (with a stand-in `pyenv` script on PATH)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.realoh.python312 import PythonNotFound, find_python312, pick_version


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["system", "3.11.7", "3.12.1", "3.13.0"], "3.12.1"),
        (["3.12.1", "3.12.10", "3.12.3"], "3.12.10"),
        (["* 3.12.4 (set by /root/.pyenv/version)"], "3.12.4"),
        (["3.12.1/envs/venv", "pypy3.12-7.3", "3.12-dev", "3.12.0rc1"], None),
        (["3.11.7", "3.13.0"], None),
        ([], None),
    ],
)
def test_pick_version(lines: list[str], expected: str | None) -> None:
    assert pick_version(lines) == expected


def _fake_pyenv(tmp_path: Path, versions: list[str]) -> Path:
    root = tmp_path / "pyenv-root"
    for v in versions:
        python = root / "versions" / v / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text("#!/bin/sh\necho fake\n")
        python.chmod(python.stat().st_mode | stat.S_IEXEC)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "pyenv"
    listing = "\\n".join(versions)
    script.write_text(f'#!/bin/sh\ncase "$1" in\n  root) echo "{root}";;\n  versions) printf "{listing}\\n";;\nesac\n')
    script.chmod(0o755)
    return bindir


def test_finds_the_newest_3_12_under_pyenv_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = _fake_pyenv(tmp_path, ["3.11.7", "3.12.1", "3.12.9"])
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin:/bin")
    assert find_python312() == tmp_path / "pyenv-root" / "versions" / "3.12.9" / "bin" / "python"


def test_missing_3_12_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = _fake_pyenv(tmp_path, ["3.11.7", "3.13.0"])
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(PythonNotFound, match=r"pyenv install 3\.12"):
        find_python312()


def test_missing_pyenv_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PYENV_ROOT", raising=False)
    with pytest.raises(PythonNotFound, match="pyenv is not on PATH"):
        find_python312()


def test_up_without_3_12_fails_clearly_and_starts_nothing(tmp_path: Path) -> None:
    bindir = _fake_pyenv(tmp_path, ["3.11.7"])
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}/usr/bin:/bin"}
    argv = [sys.executable, "-m", "loadtest", "openhands", "up", "--state-dir", str(tmp_path / "state")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "pyenv install 3.12" in done.stderr and done.stdout == ""
    assert not (tmp_path / "state" / "run" / "pids.json").exists()


def test_up_with_a_python_that_is_not_3_12_fails_clearly(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "loadtest", "openhands", "up", "--state-dir", str(tmp_path)]
    argv += ["--python", sys.executable]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "not 3.12" in done.stderr
