"""`up`, `down` and `status` for a real OpenHands 1.6.0 server plus our mock LLM, on loopback only.

`up` starts three processes, each in its own session, and records them in `<run-dir>/pids.json`:
the mock LLM (`loadtest mock-llm`), a watchdog that stops both services at the lifetime's end, and
OpenHands (`uvicorn openhands.server.listen:app`). `down` stops exactly those pids.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadtest.errors import LoadtestError
from loadtest.realoh.config import ServerPlan, config_toml, openhands_env, server_argv, settings_payload
from loadtest.realoh.install import ensure_installed, venv_python
from loadtest.realoh.pids import PidFile, ProcRecord, stop_all
from loadtest.realoh.python312 import check_python, find_python312

HEALTH_TIMEOUT_S = 120.0
LLM_READY_TIMEOUT_S = 30.0
_LLM_READY = re.compile(r"loadtest mock-llm listening on (http://127\.0\.0\.1:\d+)")

Say = Callable[[str], None]


class LaunchError(LoadtestError, RuntimeError):
    """`up` could not bring the server up; the message says which step and where the log is."""


@dataclass(frozen=True)
class UpOptions:
    state_dir: Path
    """Holds the venv (reused across runs)."""
    run_dir: Path
    """Holds config.toml, store/, workspace/, logs/ and pids.json for one running instance."""
    port: int = 0
    llm_port: int = 0
    lifetime_s: float = 1800.0
    python: Path | None = None
    mock_args: tuple[str, ...] = ()
    max_concurrent_conversations: int = 200
    close_delay_s: int = 60
    llm_num_retries: int = 0
    health_timeout_s: float = HEALTH_TIMEOUT_S
    max_iterations: int = 500


def pid_path(run_dir: Path) -> Path:
    return run_dir / "pids.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(argv: list[str], *, log: Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_line(
    proc: subprocess.Popen[bytes], log: Path, offset: int, pattern: re.Pattern[str], timeout: float
) -> str:
    """The first group of `pattern` in what `proc` wrote to `log` past `offset` (its size before the start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_bytes()[offset:].decode(errors="replace") if log.exists() else ""
        m = pattern.search(text)
        if m:
            return m.group(1)
        if proc.poll() is not None:
            raise LaunchError(f"process {proc.pid} exited with code {proc.returncode} before it was ready; see {log}")
        time.sleep(0.1)
    raise LaunchError(f"no ready line after {timeout:.0f} s; see {log}")


def http_json(method: str, url: str, body: object | None = None, timeout: float = 10.0) -> tuple[int, object]:
    """A small loopback HTTP call; returns (status, decoded JSON or text). Network errors give status 0."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (OSError, ValueError):
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Poll `GET /health` every 0.5 s (well under the server's 10 req/s limit); returns seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise LaunchError(f"OpenHands exited with code {proc.returncode} while starting; see {log}")
        status, _ = http_json("GET", f"{url}/health", timeout=2.0)
        if status == 200:
            return time.monotonic() - start
        time.sleep(0.5)
    raise LaunchError(f"OpenHands did not answer /health within {timeout:.0f} s; see {log}")


def running(run_dir: Path) -> PidFile | None:
    """The pid file when every recorded process still runs, else None."""
    pf = PidFile.load(pid_path(run_dir))
    if pf is None or not pf.processes or not all(r.alive() for r in pf.processes):
        return None
    return pf


def up(opts: UpOptions, say: Say = print) -> PidFile:
    """Install when needed, start mock LLM + watchdog + OpenHands, wait for health, seed settings."""
    current = running(opts.run_dir)
    if current is not None:
        say(f"already running (pid file {pid_path(opts.run_dir)})")
        return current
    stale = PidFile.load(pid_path(opts.run_dir))
    if stale is not None:
        stop_all(stale.processes, say=say)
        pid_path(opts.run_dir).unlink(missing_ok=True)
    python = opts.python or find_python312()
    check_python(python)
    venv = opts.state_dir / "venv"
    t0 = time.monotonic()
    if ensure_installed(venv, python, opts.state_dir / "install.log", say=say):
        say(f"installed in {time.monotonic() - t0:.0f} s")
    logs = opts.run_dir / "logs"
    for d in (opts.run_dir, logs):
        d.mkdir(parents=True, exist_ok=True)
    pf = PidFile(started_at=time.time(), deadline=time.time() + opts.lifetime_s)
    try:
        _start(opts, venv, logs, pf, say)
    except BaseException:
        stop_all(pf.processes, say=say)
        pid_path(opts.run_dir).unlink(missing_ok=True)
        raise
    return pf


def _start(opts: UpOptions, venv: Path, logs: Path, pf: PidFile, say: Say) -> None:
    path = pid_path(opts.run_dir)
    llm_log = logs / "mock-llm.log"
    offset = llm_log.stat().st_size if llm_log.exists() else 0
    llm_argv = [sys.executable, "-m", "loadtest", "mock-llm", "--host", "127.0.0.1", "--port", str(opts.llm_port)]
    llm = _spawn([*llm_argv, *opts.mock_args], log=llm_log, cwd=opts.run_dir)
    pf.processes.append(ProcRecord.of("mock-llm", llm.pid))
    pf.save(path)
    pf.llm_url = _wait_for_line(llm, llm_log, offset, _LLM_READY, LLM_READY_TIMEOUT_S)
    watchdog = _spawn(
        [sys.executable, "-m", "loadtest.realoh.watchdog", str(path)], log=logs / "watchdog.log", cwd=opts.run_dir
    )
    pf.processes.append(ProcRecord.of("watchdog", watchdog.pid))
    pf.save(path)
    plan = ServerPlan(
        run_dir=opts.run_dir,
        port=opts.port or free_port(),
        llm_url=f"{pf.llm_url}/v1",
        max_concurrent_conversations=opts.max_concurrent_conversations,
        close_delay_s=opts.close_delay_s,
        llm_num_retries=opts.llm_num_retries,
        max_iterations=opts.max_iterations,
    )
    for d in (plan.store, plan.workspace):
        d.mkdir(parents=True, exist_ok=True)
    (opts.run_dir / "config.toml").write_text(config_toml(plan))
    oh_log = logs / "openhands.log"
    say(f"starting OpenHands 1.6.0 on {plan.url} (log {oh_log}; ~30-40 s)")
    server = _spawn(
        server_argv(venv_python(venv), plan.port),
        log=oh_log,
        cwd=opts.run_dir,
        env=openhands_env(plan, dict(os.environ)),
    )
    pf.processes.append(ProcRecord.of("openhands", server.pid))
    pf.url = plan.url
    pf.save(path)
    waited = wait_healthy(plan.url, server, oh_log, opts.health_timeout_s)
    say(f"healthy after {waited:.1f} s")
    status, body = http_json("POST", f"{plan.url}/api/settings", settings_payload(plan))
    if status != 200:
        raise LaunchError(f"seeding settings failed: HTTP {status} {str(body)[:200]}")


def down(run_dir: Path, say: Say = print) -> int:
    """Stop the processes in the pid file (OpenHands first, the watchdog last); returns how many were running."""
    path = pid_path(run_dir)
    pf = PidFile.load(path)
    if pf is None:
        say(f"nothing to stop: no pid file at {path}")
        return 0
    order = {"openhands": 0, "mock-llm": 1, "watchdog": 2}
    procs = sorted(pf.processes, key=lambda r: order.get(r.name, 3))
    stopped = stop_all(procs[:-1], say=say) + stop_all(procs[-1:], say=say) if procs else []
    path.unlink(missing_ok=True)
    say(f"stopped {len(stopped)} process(es)" if stopped else "no recorded process was still running")
    return len(stopped)


def status(run_dir: Path, say: Say = print) -> bool:
    """Print each recorded process, /health and the mock LLM's /stats; True when all are up."""
    pf = PidFile.load(pid_path(run_dir))
    if pf is None:
        say(f"not running (no pid file at {pid_path(run_dir)})")
        return False
    ok = True
    for rec in pf.processes:
        alive = rec.alive()
        ok &= alive
        say(f"{rec.name:<10} pid {rec.pid:<8} {'running' if alive else 'gone'}")
    remaining = pf.deadline - time.time()
    say(f"lifetime left: {max(0.0, remaining):.0f} s")
    if pf.url:
        health, _ = http_json("GET", f"{pf.url}/health", timeout=5.0)
        ok &= health == 200
        say(f"openhands  {pf.url} /health -> {health or 'no answer'}")
    if pf.llm_url:
        code, stats = http_json("GET", f"{pf.llm_url}/stats", timeout=5.0)
        say(f"mock-llm   {pf.llm_url} /stats -> {json.dumps(stats) if code == 200 else code or 'no answer'}")
    return ok
