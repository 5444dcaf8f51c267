"""Run `locust -f locustfile.py --headless` as a bounded subprocess and read its run folder back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.timeline import Second as Slice
from loadtest.timeline import from_line as slice_from_line
from loadtest.timeline import window
from tests.support.procs import ROOT

LOCUSTFILE = ROOT / "locustfile.py"


@dataclass
class LocustRun:
    rc: int
    output: str
    folder: Path
    run: dict[str, Any] = field(default_factory=dict)
    lines: list[dict[str, Any]] = field(default_factory=list)

    def total(self) -> Slice:
        """Every second of the timeline merged."""
        return window(slice_from_line(line) for line in self.lines)

    def counter(self, key: str) -> int:
        return self.total().counter(key)

    def p50(self, metric: str) -> float:
        h = self.total().hists[metric]
        value = h.percentile(50)
        assert value is not None
        return value


def locust_argv(host: str, folder: Path, *args: str, users: int = 2, run_time: str = "4s") -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
        "-u", str(users), "-r", "50", *(["-t", run_time] if run_time else []), "--report-dir", str(folder),
        "--skip-report", "--only-summary", "--loglevel", "INFO", *args,
    ]  # fmt: skip


def wait_bounded(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group we started, by its pid
        out, _ = proc.communicate(timeout=10)
        raise AssertionError(f"locust did not finish within {timeout}s:\n{out[-4000:]}") from None
    return proc.returncode, out


def start_locust(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen(
        argv,
        cwd=str(ROOT),
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def read_folder(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").exists() else {}
    timeline = folder / "timeline.jsonl"
    lines = [json.loads(x) for x in timeline.read_text().splitlines() if x.strip()] if timeline.exists() else []
    return run, lines


def run_locust(
    host: str, folder: Path, *args: str, users: int = 2, run_time: str = "4s", timeout: float = 40.0
) -> LocustRun:
    proc = start_locust(locust_argv(host, folder, *args, users=users, run_time=run_time))
    rc, out = wait_bounded(proc, timeout)
    run, lines = read_folder(folder)
    return LocustRun(rc, out, folder, run, lines)


def locust_counts(output: str) -> dict[str, int]:
    """Request counts of Locust's own final summary (its percentile table's last column)."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[0] in ("socketio", "Aggregated") and parts[-1].isdigit() and "|" not in line:
            counts[parts[1] if parts[0] == "socketio" else "Aggregated"] = int(parts[-1])
    return counts
