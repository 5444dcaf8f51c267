"""Arrival scheduling for paced users, without phase lock, and intended send times.

Locust's ``constant_pacing``/``constant_throughput`` anchor each user's schedule to its own start,
and users start within a fraction of a second of each other, so N users fire in the same few
milliseconds every period and the server sees bursts of N (p50 then grows with N at a fixed total
rate). Here every paced user of a process shares one *epoch* and gets a *phase*: the k-th user
gets ``frac(k·φ + worker·√2)`` of the interval (φ the golden ratio), a low-discrepancy sequence
that spreads any number of users evenly over the period. User k sends at
``epoch + (phase_k + n)·interval`` for n = 0, 1, 2, … — these are the *intended* times from which
coordinated-omission-corrected latencies are measured, so a stalled client or server cannot hide
the wait behind a late send.

When a user falls behind (a reconnect, a slow greenlet) it sends the missed slot at once; slots
more than ``max_behind`` intervals late are skipped and counted as dropped (like k6's
``dropped_iterations``), so a stall never turns into an unbounded burst.

Pure: the clock is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["GOLDEN", "PaceSchedule", "PhaseAllocator", "Slot", "interval_for_rate"]

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # frac(φ)
_WORKER_SHIFT = math.sqrt(2.0) - 1.0


def interval_for_rate(total_rate: float, users: int) -> float:
    """Per-user interval that gives ``total_rate`` actions/s from ``users`` users."""
    if total_rate <= 0 or users <= 0:
        raise ValueError("rate and users must be positive")
    return users / total_rate


class PhaseAllocator:
    """Hands out evenly spread phases in [0, 1) to the paced users of one process."""

    def __init__(self, worker_index: int = 0) -> None:
        self.worker_index = worker_index
        self.k = 0

    def next_phase(self) -> float:
        phase = (self.k * GOLDEN + self.worker_index * _WORKER_SHIFT) % 1.0
        self.k += 1
        return phase


@dataclass(frozen=True)
class Slot:
    """The next send: when it was intended and how many earlier slots were skipped."""

    intended_at: float
    dropped: int


class PaceSchedule:
    """One user's send times: ``epoch + (phase + n) · interval``."""

    def __init__(self, epoch: float, phase: float, interval: float, *, max_behind: float = 1.0) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.epoch = epoch
        self.phase = phase % 1.0
        self.interval = interval
        self.max_behind = max_behind
        self.n: int | None = None  # index of the next slot; None until first use

    def _time(self, n: int) -> float:
        return self.epoch + (self.phase + n) * self.interval

    def _first_index_at_or_after(self, t: float) -> int:
        return max(0, math.ceil((t - self.epoch) / self.interval - self.phase - 1e-9))

    def next_slot(self, now: float) -> Slot:
        """The slot to send next (possibly in the past), advancing the schedule past it."""
        if self.n is None:
            self.n = self._first_index_at_or_after(now)
        dropped = 0
        oldest_allowed = now - self.max_behind * self.interval
        if self._time(self.n) < oldest_allowed:
            catch_up = self._first_index_at_or_after(oldest_allowed)
            dropped = catch_up - self.n
            self.n = catch_up
        slot = Slot(self._time(self.n), dropped)
        self.n += 1
        return slot

    def retime(self, interval: float, now: float) -> None:
        """Change the interval (a new offered rate) keeping this user's phase; resumes from ``now``."""
        if interval <= 0:
            raise ValueError("interval must be positive")
        if math.isclose(interval, self.interval):
            return
        self.interval = interval
        self.epoch = math.floor(now / interval) * interval  # a shared grid: every user retimes alike
        self.n = None

    @property
    def rate(self) -> float:
        return 1.0 / self.interval
