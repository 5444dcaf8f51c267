"""Ctrl-C (SIGINT) and SIGTERM of a headless run; a timeline cut mid-line by a crash.

The run folder must be complete up to the second of the stop (``run.json`` with ``ended_at``, one timeline
line per second run, Locust's CSVs) and the report built. ``loadtest report`` on a timeline whose last line
was cut rebuilds from the complete lines and says how many it dropped.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.locustrun import locust_argv, read_folder, start_locust, wait_bounded
from tests.support.procs import ROOT, ReferenceServer

pytestmark = pytest.mark.slow

SERVER_OPTS = ("--event-delay-ms", "20", "--script", "run,message", "--max-conversations", "0", "--no-http-limit")
STOP_AFTER = 5.0


def _wait_for_lines(folder: Path, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    path = folder / "timeline.jsonl"
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} did not reach {n} lines in {timeout}s")


def _assert_complete(folder: Path, seen: int) -> None:
    """`seen`: timeline lines there were when the signal was sent (right after they appeared)."""
    run, lines = read_folder(folder)
    assert run["ended_at"], run
    assert run["timeline"]["seconds"] == len(lines)
    # one line per second up to the stop: the seconds already written, the one in progress and, at most, the
    # partial second of the stop (start-up and report building, however slow, add no lines)
    assert seen <= len(lines) <= seen + 3, (len(lines), seen)
    assert [x["t"] for x in lines] == list(range(len(lines)))
    assert sum(x["counters"]["turns"] for x in lines) >= 3
    for name in ("report.html", "summary.json", "summary.md"):
        assert (folder / name).exists(), name
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["run"]["timeline_seconds"] == len(lines) and summary["run"]["complete"] is True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_locust_headless_stopped_by_signal_keeps_its_run_folder(tmp_path: Path, sig: signal.Signals) -> None:
    folder = tmp_path / "run"
    with ReferenceServer(*SERVER_OPTS) as server:
        argv = locust_argv(server.url, folder, "--think-time", "200ms", "ChatUser", users=2, run_time="60s")
        argv.remove("--skip-report")
        proc = start_locust(argv)
        _wait_for_lines(folder, int(STOP_AFTER), 30)
        proc.send_signal(sig)  # the process we started, by its pid
        rc, out = wait_bounded(proc, 30)
    assert rc in (0, 1), out[-3000:]
    _assert_complete(folder, int(STOP_AFTER))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_bench_stopped_by_signal_builds_the_report(tmp_path: Path, sig: signal.Signals) -> None:
    folder = tmp_path / "bench"
    argv = [sys.executable, "-m", "loadtest", "bench", "--report-dir", str(folder), "--users", "2",
            "--run-time", "60s", "--quiet", "--no-pin"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    _wait_for_lines(folder, int(STOP_AFTER), 40)
    proc.send_signal(sig)
    rc, out = wait_bounded(proc, 40)
    assert rc in (0, 1, 3), out[-3000:]
    assert "report:" in out and "interrupted" in out, out[-3000:]
    _assert_complete(folder, int(STOP_AFTER))


def test_truncated_timeline_is_rebuilt_from_complete_lines(tmp_path: Path) -> None:
    folder = tmp_path / "crash"
    with ReferenceServer(*SERVER_OPTS) as server:
        argv = locust_argv(server.url, folder, "--think-time", "200ms", "ChatUser", users=2, run_time="5s")
        rc, out = wait_bounded(start_locust(argv), 40)
    assert rc in (0, 1), out[-3000:]
    path = folder / "timeline.jsonl"
    lines = path.read_text().splitlines()
    complete = len(lines) - 1
    cut = lines[-1][: len(lines[-1]) // 2]  # a crash in the middle of writing the last second
    path.write_text("\n".join(lines[:-1]) + "\n" + cut)
    run = json.loads((folder / "run.json").read_text())
    run["ended_at"] = None  # a crash never wrote the final run.json
    (folder / "run.json").write_text(json.dumps(run))
    proc = subprocess.run([sys.executable, "-m", "loadtest", "report", str(folder)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 incomplete or unreadable line(s) dropped" in proc.stdout, proc.stdout
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["run"]["timeline_seconds"] == complete and summary["run"]["timeline_dropped_lines"] == 1
    assert summary["run"]["complete"] is False
    assert "did not finish normally" in (folder / "summary.md").read_text()
