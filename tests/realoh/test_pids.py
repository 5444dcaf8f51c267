"""The pid file, `down` and the lifetime watchdog stop exactly the recorded processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.realoh.launcher import down, pid_path
from loadtest.realoh.pids import PidFile, ProcRecord, stop_all


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "120"])
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_pid_file_round_trip(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    pf = PidFile([ProcRecord.of("x", sleeper.pid)], url="http://127.0.0.1:1", started_at=1.0, deadline=2.0)
    pf.save(tmp_path / "pids.json")
    back = PidFile.load(tmp_path / "pids.json")
    assert back == pf and back is not None and back.processes[0].alive()
    assert PidFile.load(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("[1]")
    with pytest.raises(ValueError, match="not a loadtest pid file"):
        PidFile.load(tmp_path / "bad.json")


def test_stop_all_terminates_recorded_processes(sleeper: subprocess.Popen[bytes]) -> None:
    rec = ProcRecord.of("sleeper", sleeper.pid)
    lines: list[str] = []
    assert stop_all([rec], grace=5, say=lines.append) == [rec]
    assert sleeper.wait(5) == -15 and not rec.alive()
    assert lines == [f"stopping sleeper (pid {sleeper.pid})"]


def test_a_reused_pid_is_never_signalled(sleeper: subprocess.Popen[bytes]) -> None:
    impostor = ProcRecord("sleeper", sleeper.pid, ProcRecord.of("x", sleeper.pid).create_time - 100.0)
    assert not impostor.alive()
    assert stop_all([impostor], grace=1, say=lambda _: None) == []
    time.sleep(0.2)
    assert sleeper.poll() is None


def test_down_stops_what_the_pid_file_names_and_removes_it(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    PidFile([ProcRecord.of("openhands", sleeper.pid)]).save(pid_path(tmp_path))
    assert down(tmp_path, say=lambda _: None) == 1
    assert sleeper.wait(5) == -15 and not pid_path(tmp_path).exists()
    assert down(tmp_path, say=lambda _: None) == 0


def _watchdog(pid_file: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "loadtest.realoh.watchdog", str(pid_file)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_watchdog_stops_the_processes_at_the_deadline(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    path = tmp_path / "pids.json"
    PidFile([ProcRecord.of("openhands", sleeper.pid)], deadline=time.time() + 1.0).save(path)
    dog = _watchdog(path)
    out, _ = dog.communicate(timeout=30)
    assert dog.returncode == 0 and "lifetime over" in out
    assert sleeper.wait(5) == -15


def test_watchdog_leaves_when_the_pid_file_goes(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    path = tmp_path / "pids.json"
    PidFile([ProcRecord.of("openhands", sleeper.pid)], deadline=time.time() + 60).save(path)
    dog = _watchdog(path)
    time.sleep(1.5)
    path.unlink()
    out, _ = dog.communicate(timeout=30)
    assert "pid file removed" in out and sleeper.poll() is None
