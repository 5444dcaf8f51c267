"""Find a Python 3.12 interpreter through pyenv (`pyenv root` + `pyenv versions`), never a fixed path.

openhands-ai 1.6.0 requires Python >=3.12,<3.14; we use 3.12 because that is what it was proven with.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from loadtest.errors import LoadtestError

WANTED = (3, 12)
INSTALL_HINT = (
    "openhands-ai 1.6.0 needs Python 3.12: install it with `pyenv install 3.12` "
    "(pyenv: https://github.com/pyenv/pyenv#installation), or pass --python /path/to/python3.12"
)
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class PythonNotFound(LoadtestError, RuntimeError):
    """No usable Python 3.12; the message names what to install."""


def pick_version(lines: list[str], wanted: tuple[int, int] = WANTED) -> str | None:
    """The newest plain CPython `major.minor.patch` in `pyenv versions --bare` output, or None.

    Virtualenvs (`3.12.1/envs/x`), other implementations and pre-releases are skipped.
    """
    best: tuple[int, int, int] | None = None
    for line in lines:
        m = _VERSION.match(line.strip().lstrip("* ").split(" ")[0])
        if not m:
            continue
        version = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if version[:2] == wanted and (best is None or version > best):
            best = version
    return None if best is None else ".".join(map(str, best))


def _pyenv(*args: str) -> str:
    exe = shutil.which("pyenv")
    if exe is None:
        root = os.environ.get("PYENV_ROOT")
        candidate = Path(root) / "bin" / "pyenv" if root else None
        if candidate is None or not candidate.exists():
            raise PythonNotFound(f"pyenv is not on PATH. {INSTALL_HINT}")
        exe = str(candidate)
    try:
        out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PythonNotFound(f"`pyenv {' '.join(args)}` failed ({type(exc).__name__}). {INSTALL_HINT}") from exc
    return out.stdout


def find_python312() -> Path:
    """Path of a Python 3.12 interpreter from pyenv; raises PythonNotFound with an install hint."""
    root = Path(_pyenv("root").strip())
    version = pick_version(_pyenv("versions", "--bare").splitlines())
    if version is None:
        raise PythonNotFound(f"pyenv (root {root}) has no Python 3.12.x. {INSTALL_HINT}")
    python = root / "versions" / version / "bin" / "python"
    if not os.access(python, os.X_OK):
        raise PythonNotFound(f"pyenv lists {version} but {python} is not executable. {INSTALL_HINT}")
    return python


def check_python(python: Path) -> str:
    """The `major.minor.patch` of `python`; raises PythonNotFound unless it is 3.12."""
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise PythonNotFound(f"cannot run {python} ({type(exc).__name__}). {INSTALL_HINT}") from exc
    if pick_version([out]) is None:
        raise PythonNotFound(f"{python} is Python {out}, not 3.12. {INSTALL_HINT}")
    return out
