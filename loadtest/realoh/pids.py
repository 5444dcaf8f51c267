"""The pid file of `loadtest openhands up`, and stopping exactly the processes it names.

Each record keeps the pid *and* the process start time, so a pid the kernel has since given to another
process is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

START_TIME_SLACK_S = 1.0
TERM_GRACE_S = 20.0
"""OpenHands takes about 10 s to stop on SIGTERM (it waits for agent threads)."""


@dataclass(frozen=True)
class ProcRecord:
    name: str
    pid: int
    create_time: float

    @classmethod
    def of(cls, name: str, pid: int) -> ProcRecord:
        return cls(name, pid, psutil.Process(pid).create_time())

    def alive(self) -> bool:
        """True when `pid` still runs and is the very process recorded (same start time), not a zombie."""
        try:
            proc = psutil.Process(self.pid)
            same = abs(proc.create_time() - self.create_time) <= START_TIME_SLACK_S
            return same and bool(proc.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False


@dataclass
class PidFile:
    """Contents of `<run-dir>/pids.json`."""

    processes: list[ProcRecord] = field(default_factory=list)
    url: str = ""
    llm_url: str = ""
    started_at: float = 0.0
    deadline: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> PidFile:
        data: object = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        procs = [ProcRecord(str(p["name"]), int(p["pid"]), float(p["create_time"])) for p in data.get("processes", [])]
        return cls(
            processes=procs,
            url=str(data.get("url", "")),
            llm_url=str(data.get("llm_url", "")),
            started_at=float(data.get("started_at", 0.0)),
            deadline=float(data.get("deadline", 0.0)),
        )

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> PidFile | None:
        try:
            return cls.from_json(path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path} is not a loadtest pid file: {exc}") from exc


def _signal(rec: ProcRecord, sig: int) -> None:
    if rec.alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec.pid, sig)


def stop_all(
    records: Iterable[ProcRecord], *, grace: float = TERM_GRACE_S, say: Callable[[str], None] = print
) -> list[ProcRecord]:
    """SIGTERM the live recorded processes, wait up to `grace`, SIGKILL the rest. Returns those signalled."""
    live = [r for r in records if r.alive()]
    for rec in live:
        say(f"stopping {rec.name} (pid {rec.pid})")
        _signal(rec, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(r.alive() for r in live):
        time.sleep(0.2)
    for rec in live:
        if rec.alive():
            say(f"{rec.name} (pid {rec.pid}) ignored SIGTERM for {grace:.0f} s: SIGKILL")
            _signal(rec, signal.SIGKILL)
    kill_deadline = time.monotonic() + 5.0
    while time.monotonic() < kill_deadline and any(r.alive() for r in live):
        time.sleep(0.1)
    return live
