"""Bounded lifetime: stop the processes `loadtest openhands up` started once their deadline passes.

Run as `python -m loadtest.realoh.watchdog <pid-file>` in its own session. It re-reads the pid file every
second, exits when the pid file is gone or every recorded process has ended (e.g. after `down`), and
otherwise, at the deadline, SIGTERMs then SIGKILLs the recorded processes (never itself).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from loadtest.realoh.pids import PidFile, stop_all

POLL_S = 1.0
MAX_LIFETIME_S = 24 * 3600.0


def watch(pid_file: Path, *, poll: float = POLL_S) -> str:
    """Wait for the deadline in `pid_file`; returns why it stopped watching."""
    me = os.getpid()
    first = PidFile.load(pid_file)
    if first is None:
        return "no pid file"
    hard_stop = time.time() + MAX_LIFETIME_S
    while True:
        current = PidFile.load(pid_file)
        if current is None:
            return "pid file removed"
        others = [r for r in current.processes if r.pid != me]
        if others and not any(r.alive() for r in others):
            return "all processes ended"
        now = time.time()
        if now >= min(current.deadline, hard_stop):
            stop_all(others, say=lambda line: print(f"watchdog: {line}", flush=True))
            return "lifetime over"
        time.sleep(min(poll, max(0.05, current.deadline - now)))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m loadtest.realoh.watchdog <pid-file>", file=sys.stderr)
        return 2
    reason = watch(Path(argv[0]))
    print(f"watchdog: {reason}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
