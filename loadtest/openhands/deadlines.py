"""One process-wide greenlet that wakes waiters whose deadline has passed: no timer per wait.

`Conversation.wait` used to start a `gevent.Timeout` for every turn (5 % of the generator's CPU at saturation:
a libev timer started and stopped per turn). A turn's deadline is coarse (seconds), so one sweeper that looks at
every registered waiter a few times per timeout is enough: it wakes every `period` seconds (a twentieth of the
shortest timeout registered, within 10 ms..0.5 s), so a deadline fires at most one period late. It exits when
nothing is registered and starts again with the next registration.
"""

from __future__ import annotations

# isort: split

import gevent

import time
from typing import Protocol

__all__ = ["DEADLINES", "Deadlines", "Wakeable"]

_MIN_PERIOD, _MAX_PERIOD = 0.01, 0.5


class Wakeable(Protocol):
    def set(self) -> None: ...


class Deadlines:
    """Waiters keyed by identity, each with the `time.perf_counter()` second at which it must be woken."""

    def __init__(self) -> None:
        self._due: dict[int, tuple[Wakeable, float]] = {}
        self._period = _MAX_PERIOD
        self._running = False

    def __len__(self) -> int:
        return len(self._due)

    def add(self, waiter: Wakeable, deadline: float, timeout: float) -> None:
        """Wake `waiter` (call its ``set()``) once `deadline` has passed; `timeout` (seconds) sets the precision."""
        self._due[id(waiter)] = (waiter, deadline)
        period = min(_MAX_PERIOD, max(_MIN_PERIOD, timeout / 20))
        if period < self._period:
            self._period = period
        if not self._running:
            self._running = True
            gevent.spawn_raw(self._run)

    def discard(self, waiter: Wakeable) -> None:
        self._due.pop(id(waiter), None)

    def _run(self) -> None:
        try:
            while self._due:
                gevent.sleep(self._period)
                now = time.perf_counter()
                late = [key for key, (_, deadline) in self._due.items() if deadline <= now]
                for key in late:
                    entry = self._due.pop(key, None)
                    if entry is not None:
                        entry[0].set()
        finally:
            self._running = False
            self._period = _MAX_PERIOD


DEADLINES = Deadlines()
