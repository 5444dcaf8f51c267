"""Invalid options and ``--slo`` expressions: exit 2 naming the option, the bad value and a good example;
nothing started (no server line, no run folder, no file written in the working directory)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import ROOT

LOCUSTFILE = str(ROOT / "locustfile.py")
LOCUST = ["-m", "locust", "-f", LOCUSTFILE, "--headless", "-t", "2s"]

CASES = [
    # (argv after the program, option, bad value, a word of the good example)
    (["-m", "loadtest", "bench", "--slo", "echo.p95<<3"], "--slo", "echo.p95<<3", "echo.p95<250ms"),
    (["-m", "loadtest", "bench", "--slo", "nosuch.p95<1s"], "--slo", "nosuch.p95<1s", "echo.p95<250ms"),
    (["-m", "loadtest", "bench", "--users", "-3"], "--users", "-3", "--users 20"),
    (["-m", "loadtest", "bench", "--run-time", "5x"], "--run-time", "5x", "30s"),
    (["-m", "loadtest", "bench", "--profile", "nope"], "--profile", "nope", "chat"),
    (["-m", "loadtest", "serve", "--port", "99999"], "--port", "99999", "--port 3000"),
    (["-m", "loadtest", "serve", "--drop-share", "2"], "--drop-share", "2", "--drop-share 0.1"),
    (["-m", "loadtest", "serve", "--handshake-rate", "x"], "--handshake-rate", "x", "--handshake-rate 5"),
    (["-m", "loadtest", "serve", "--drop-mode", "weird"], "--drop-mode", "weird", "--drop-mode clean"),
    ([*LOCUST, "--host", "http://127.0.0.1:9", "--slo", "echo.p95<<3"],
     "--slo", "echo.p95<<3", "echo.p95<250ms"),
    ([*LOCUST, "--host", "http://127.0.0.1:9", "--think-time", "3x"],
     "--think-time", "3x", "2s"),
    ([*LOCUST, "--host", "ftp://x", "ChatUser"],
     "--host", "ftp://x", "http://127.0.0.1:3000"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "option", "value", "example"), CASES, ids=[" ".join(c[0][1:4]) for c in CASES])
def test_bad_option_exits_2_naming_it_and_starts_nothing(
    tmp_path: Path, argv: list[str], option: str, value: str, example: str
) -> None:
    proc = subprocess.run(
        [sys.executable, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], err[-2000:])
    line = next((x for x in err.splitlines() if option in x and value in x), None)
    assert line is not None, err[-2000:]
    assert example in line, line
    assert "listening" not in proc.stdout and "reference server" not in proc.stdout
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())  # no run folder, no file
