"""How late this process's gevent loop ran: one monitor greenlet per process, read by any code that times I/O.

A greenlet that hogs the loop (spawning thousands of users, a CPU-bound handler) delays every timer and socket
read by about as long as it runs, so a request timed across that stretch looks slow although the server was
fast. The monitor sleeps a fixed short tick and adds how late it woke to a cumulative total; `lag_s` also adds
how overdue its *pending* tick is, so a reading taken right after the loop was blocked already includes the
block, whichever greenlet the loop resumes first. A request reads `lag_s` at its start and end: the difference is
the loop lag it suffered, an upper bound on the generator's share of its duration (lag while the server was
still working adds nothing to the request).

Only a process whose sockets gevent patched depends on the loop for its I/O; elsewhere (plain threads, blocking
sockets) `lag_s` returns None and nothing is measured. The monitor starts on first use and again after a fork.
"""

from __future__ import annotations

import gevent
import gevent.monkey

import os
import time

__all__ = ["MONITOR", "TICK", "LoopLagMonitor", "lag_s"]

TICK = 0.05
"""Seconds between the monitor's wake-ups (20 timers a second: negligible CPU)."""


class LoopLagMonitor:
    """A cumulative count of loop lag seconds and the worst single lateness since the last `take_max`."""

    def __init__(self, tick: float = TICK) -> None:
        if tick <= 0:
            raise ValueError(f"tick must be > 0 s, got {tick!r}")
        self.tick = tick
        self.total_s = 0.0
        """Lag committed by the monitor's wake-ups so far (seconds)."""
        self.max_s = 0.0
        self._due = 0.0
        self._greenlet: gevent.Greenlet | None = None
        self._hub: object | None = None
        self._pid = 0

    @property
    def running(self) -> bool:
        g = self._greenlet
        return g is not None and not g.dead and self._pid == os.getpid()

    def start(self) -> None:
        """Start the monitor in this thread's loop (no-op when it runs already, in whichever loop)."""
        if self.running:
            return
        self._pid = os.getpid()
        self._hub = gevent.get_hub()
        self._due = time.perf_counter() + self.tick  # from now on, a late first wake-up is lag too
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        g, self._greenlet = self._greenlet, None
        if g is not None and not g.dead:
            g.kill(block=False)

    def _run(self) -> None:
        while True:
            gevent.sleep(max(self._due - time.perf_counter(), 0.0))
            now = time.perf_counter()
            late = now - self._due
            if late > 0.0:
                self.total_s += late
                if late > self.max_s:
                    self.max_s = late
            self._due = now + self.tick

    def lag_s(self, now: float | None = None) -> float:
        """Loop lag so far (seconds): the committed total plus how overdue the pending tick is at ``now``."""
        t = time.perf_counter() if now is None else now
        return self.total_s + max(t - self._due, 0.0)

    def take_max(self, now: float | None = None) -> float:
        """The worst lateness (seconds) since the previous call, the pending tick's included; resets it."""
        t = time.perf_counter() if now is None else now
        worst = max(self.max_s, t - self._due, 0.0)
        self.max_s = 0.0
        return worst


MONITOR = LoopLagMonitor()
"""The process's monitor (`lag_s` starts it on first use; the harness's health probe reads it too)."""


def lag_s() -> float | None:
    """The process's cumulative loop lag in seconds (read it before and after a request), or None when this
    process's sockets do not go through the gevent loop (then its lag cannot delay them)."""
    if not gevent.monkey.is_module_patched("socket"):
        return None
    m = MONITOR
    m.start()
    if m._hub is not gevent.get_hub():  # another thread's loop: not the one this request waits on
        return None
    return m.lag_s()
