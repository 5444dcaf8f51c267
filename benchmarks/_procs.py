"""Process plumbing shared by the benchmark scripts: pinning, the firehose target, CPU sampling, npm installs.

Every process is started here with its own session and stopped by its pid (never by name). Loopback only.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
FIREHOSE_DIR = BENCH / "firehose"
ARTILLERY_DIR = BENCH / "artillery"
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
LOCUST = str(Path(PY).with_name("locust"))


def pin(core: int | None) -> list[str]:
    """`taskset -c CORE` as an argv prefix (nothing when there is no taskset or no core)."""
    return ["taskset", "-c", str(core)] if core is not None and shutil.which("taskset") else []


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to the hard limit (children inherit it); returns the new limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (max(hard, 65536), hard):  # root may raise the hard limit too
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def npm_ci(folder: Path, marker: str, env: dict[str, str] | None = None) -> None:
    """`npm ci` in `folder` unless `node_modules/<marker>` is there already."""
    if (folder / "node_modules" / marker).exists():
        return
    if shutil.which("npm") is None:
        raise SystemExit("npm is required (apt-get install nodejs npm)")
    full_env = {**os.environ, **(env or {})}
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, check=True, timeout=900, env=full_env)


class Proc:
    """A started process (own session), stopped by pid; CPU seconds of it and its children."""

    def __init__(self, argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.ps = psutil.Process(self.popen.pid)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the process and its live children."""
        total = 0.0
        try:
            procs = [self.ps, *self.ps.children(recursive=True)]
        except psutil.Error:
            return 0.0
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system
        return total

    def rss_kib(self) -> float:
        try:
            return float(self.ps.memory_info().rss) / 1024
        except psutil.Error:
            return 0.0

    def wait(self, timeout: float) -> str:
        """Wait for the exit (killing it after `timeout`), return its output."""
        try:
            out, _ = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            out, _ = self.popen.communicate(timeout=10)
        return out or ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with_kill = self.popen.poll() is None
                if with_kill:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                    self.popen.wait(10)


class Firehose(Proc):
    """The Node firehose target on `core`; `stats()` reads its counters and CPU."""

    def __init__(self, core: int | None, events: int = 4, deflate: bool = False, agent_bytes: int = 200) -> None:
        npm_ci(FIREHOSE_DIR, "socket.io")
        argv = [*pin(core), "node", str(FIREHOSE_DIR / "firehose.js"), "--port", "0", "--events", str(events)]
        argv += ["--agent-bytes", str(agent_bytes), *(["--deflate"] if deflate else [])]
        super().__init__(argv, cwd=FIREHOSE_DIR)
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line.startswith("listening "):
            self.stop()
            raise SystemExit(f"firehose did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/bench/stats", timeout=10) as resp:
            return dict(json.loads(resp.read()))

    def stream(self, rate: float, seconds: float) -> None:
        req = urllib.request.Request(f"{self.url}/bench/stream?rate={rate}&seconds={seconds}", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass


class Window:
    """Generator CPU, server counters and wall time between `start()` and `stop()`."""

    def __init__(self, gen: Proc, server: Firehose) -> None:
        self.gen, self.server = gen, server

    def start(self) -> None:
        self.t0, self.c0, self.s0 = time.perf_counter(), self.gen.cpu_s(), self.server.stats()

    def stop(self) -> dict[str, float]:
        t1, c1, s1 = time.perf_counter(), self.gen.cpu_s(), self.server.stats()
        wall = t1 - self.t0
        cpu = c1 - self.c0
        actions = s1["actions"] - self.s0["actions"]
        events = s1["events"] - self.s0["events"]
        return {
            "wall_s": wall,
            "gen_cpu_s": cpu,
            "gen_cpu_share": cpu / wall if wall else 0.0,
            "actions": actions,
            "events": events,
            "actions_per_s": actions / wall if wall else 0.0,
            "cpu_us_per_action": cpu / actions * 1e6 if actions else float("nan"),
            "events_per_cpu_s": events / cpu if cpu else 0.0,
            "server_cpu_share": (s1["cpu_ms"] - self.s0["cpu_ms"]) / 1000 / wall if wall else 0.0,
        }


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
