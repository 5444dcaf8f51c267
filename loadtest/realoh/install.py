"""Install `openhands-ai==1.6.0` into its own Python 3.12 venv with uv, once (idempotent)."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from loadtest.errors import LoadtestError

OPENHANDS_VERSION = "1.6.0"
PACKAGE = f"openhands-ai=={OPENHANDS_VERSION}"
INSTALL_TIMEOUT_S = 900.0


class InstallError(LoadtestError, RuntimeError):
    """Creating the venv or installing OpenHands failed; the message names the step and the log file."""


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def is_installed(venv: Path) -> bool:
    """True when `venv` holds openhands-ai 1.6.0 (its dist-info is present) and a Python to run it."""
    if not venv_python(venv).exists():
        return False
    return any(venv.glob(f"lib/python3.*/site-packages/openhands_ai-{OPENHANDS_VERSION}.dist-info/METADATA"))


def ensure_installed(
    venv: Path, python: Path, log_path: Path, *, say: Callable[[str], None] = print, timeout: float = INSTALL_TIMEOUT_S
) -> bool:
    """Make `venv` hold openhands-ai 1.6.0; returns True when it installed, False when it was already there.

    Steps: `python -m venv`, then uv (from PATH, else `pip install uv` into the venv), then
    `uv pip install openhands-ai==1.6.0`. Output goes to `log_path`; a failure raises InstallError.
    """
    if is_installed(venv):
        return False
    deadline = time.monotonic() + timeout
    log_path.parent.mkdir(parents=True, exist_ok=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with _install_lock(venv.parent / "install.lock", deadline), log_path.open("a") as log:
        if is_installed(venv):  # another `up` installed it while we waited
            return False
        if not venv_python(venv).exists():
            say(f"creating venv {venv} with {python}")
            _step(log, [str(python), "-m", "venv", str(venv)], deadline, "create the venv")
        uv = shutil.which("uv")
        if uv is None:
            uv = str(venv / "bin" / "uv")
            if not Path(uv).exists():
                say("installing uv into the venv")
                _step(log, [str(venv_python(venv)), "-m", "pip", "install", "-q", "uv"], deadline, "install uv")
        say(f"installing {PACKAGE} with uv (about 350 packages, ~30 s with a warm cache; log {log_path})")
        cmd = [uv, "pip", "install", "--python", str(venv_python(venv)), PACKAGE]
        _step(log, cmd, deadline, f"install {PACKAGE}")
    if not is_installed(venv):
        raise InstallError(f"{PACKAGE} is still missing from {venv} after installing; see {log_path}")
    return True


@contextlib.contextmanager
def _install_lock(path: Path, deadline: float) -> Iterator[None]:
    """An exclusive flock on `path`, so two `up`s sharing a state dir never install at once."""
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InstallError(f"another install holds {path}; gave up waiting") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _step(log: IO[str], cmd: list[str], deadline: float, what: str) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise InstallError(f"ran out of time before: {what}")
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    try:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=remaining, check=True)
    except subprocess.TimeoutExpired as exc:
        raise InstallError(f"timed out trying to {what}; see {log.name}") from exc
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InstallError(f"failed to {what} ({exc}); see {log.name}") from exc
