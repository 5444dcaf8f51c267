"""Load-generator health: gevent loop lag and process CPU, taken once per second.

Loop lag is how late the process's loop-lag monitor (:mod:`loadtest.openhands.looplag`, one greenlet per
process, also read by the REST client to tell a slow generator from a slow server) woke up: when greenlets hog
the loop (too many users per process, a CPU-bound handler) every timer and socket read is late by about as
much, so latencies measured in that second include the generator's own delay. :meth:`HealthProbe.take` hands
out the worst lag and the CPU share since the previous call, once per second.
"""

from __future__ import annotations

import logging

import psutil

from loadtest.openhands import looplag

__all__ = ["BottleneckWarning", "HealthProbe"]

logger = logging.getLogger(__name__)


class HealthProbe:
    """Reads the process's loop-lag monitor; :meth:`take` returns and resets the per-second figures."""

    def __init__(self, monitor: looplag.LoopLagMonitor = looplag.MONITOR) -> None:
        self.monitor = monitor
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # prime: the first call always returns 0

    def start(self) -> None:
        self.monitor.start()

    def stop(self) -> None:
        self.monitor.stop()

    def take(self) -> tuple[float, float]:
        """(worst loop lag in ms, CPU percent of this process) since the previous call."""
        lag = self.monitor.take_max() * 1000.0 if self.monitor.running else 0.0
        try:
            cpu = float(self._process.cpu_percent(None))
        except psutil.Error:  # pragma: no cover - the process always exists
            cpu = 0.0
        return lag, cpu


class BottleneckWarning:
    """Logs (at most every ``every`` s) when the generator, not the server, limits the results."""

    def __init__(self, lag_limit_ms: float, cpu_limit: float = 90.0, sustain: int = 3, every: float = 30.0) -> None:
        self.lag_limit_ms = lag_limit_ms
        self.cpu_limit = cpu_limit
        self.sustain = sustain
        self.every = every
        self.bad_seconds = 0
        self.last_warned: float | None = None
        self.warnings = 0

    def update(self, now: float, lag_ms: float, cpu: float, where: str = "this process") -> bool:
        """Feed one second's figures; True when a warning was logged."""
        if lag_ms < self.lag_limit_ms and cpu < self.cpu_limit:
            self.bad_seconds = 0
            return False
        self.bad_seconds += 1
        if self.bad_seconds < self.sustain:
            return False
        if self.last_warned is not None and now - self.last_warned < self.every:
            return False
        self.last_warned = now
        self.warnings += 1
        logger.warning(
            "load generator is the bottleneck in %s: gevent loop lag %.0f ms, CPU %.0f%% for %d s; latencies "
            "in these seconds include the client's own delay. Use fewer users per process or more workers "
            "(--processes N).",
            where,
            lag_ms,
            cpu,
            self.bad_seconds,
        )
        return True
