"""The real OpenHands 1.6.0 server shared by every `real_openhands` test of this folder (up once, down after).

`loadtest openhands up` (installing openhands-ai==1.6.0 into its own Python 3.12 venv the first time, ~45 s)
starts our mock LLM (asking for a harmless `echo`, then `finish`) and OpenHands on loopback with a bounded
lifetime; `loadtest openhands down` stops exactly those processes after the last test here. Without a
Python 3.12 (pyenv), the tests that need the server are skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from loadtest.realoh.cli import DEFAULT_STATE_DIR
from loadtest.realoh.pids import PidFile
from loadtest.realoh.python312 import PythonNotFound, find_python312
from tests.realoh.oh_server import MOCK_LLM_ARGS, Server

UP_TIMEOUT_S = 270.0  # install (~25-45 s with a warm uv cache, longer cold) + start (25-40 s, up to 120 s busy)
LIFETIME_S = 900  # the watchdog stops both services after this even if pytest dies without `down`


def _loadtest(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "loadtest", "openhands", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="package")
def openhands(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running OpenHands 1.6.0 + mock LLM; brought down (and checked gone) after the last test of tests/realoh."""
    try:
        find_python312()
    except PythonNotFound as exc:
        pytest.skip(f"real OpenHands needs Python 3.12 from pyenv: {exc}")
    state_dir = Path(os.environ.get("LOADTEST_OH_STATE_DIR", str(DEFAULT_STATE_DIR))).expanduser()
    run_dir = tmp_path_factory.mktemp("openhands-run")
    common = ["--state-dir", str(state_dir), "--run-dir", str(run_dir)]
    records = []
    start = time.monotonic()
    try:
        up = _loadtest(
            "up", *common, "--lifetime", str(LIFETIME_S), f"--mock-llm-args={MOCK_LLM_ARGS}", timeout=UP_TIMEOUT_S
        )
        up_seconds = time.monotonic() - start
        assert up.returncode == 0, f"up failed:\n{up.stderr[-3000:]}"
        lines = up.stdout.strip().splitlines()
        first, last = lines[0], lines[-1]
        assert first.startswith("mock LLM: http://127.0.0.1:") and last.startswith("loadtest openhands listening on ")
        url, llm_url = last.rsplit(" ", 1)[-1], first.split(": ", 1)[1].removesuffix("/v1")
        pid_file = PidFile.load(run_dir / "pids.json")
        assert pid_file is not None and {p.name for p in pid_file.processes} == {"mock-llm", "watchdog", "openhands"}
        records = pid_file.processes
        yield Server(url, llm_url, run_dir, up_seconds, state_dir / "venv" / "bin" / "python")
    finally:
        down = _loadtest("down", *common, timeout=90)
        assert down.returncode == 0, down.stderr
    assert not (run_dir / "pids.json").exists()
    assert not any(r.alive() for r in records), "down left a process running"


@pytest.fixture
def llm_faults_off(openhands: Server) -> Iterator[None]:
    """The mock LLM answers every call (no injected 429s), before and after the test."""
    requests.post(f"{openhands.llm_url}/faults", json={}, timeout=5).raise_for_status()
    yield
    requests.post(f"{openhands.llm_url}/faults", json={}, timeout=5)
