"""Connection pacing of one conversation (one user): never a storm of connection attempts (pure, no I/O).

Every TCP connection a conversation opens to its server takes a slot from its `ConnectPacer` first: the
WebSocket upgrade, and every REST call (create, readiness polls, hole-audit pages, settings), since a REST
call may open a connection too (always does against a server that closes them). The pacer enforces two rules:

- **The window**: at most ``ATTEMPTS_PER_WINDOW`` (2) attempts start in any ``WINDOW_S`` (1 s, plus a
  small margin for the time between taking the slot and the SYN reaching the server). All users together
  therefore stay under 2 × users attempts per second, whatever each one does.
- **The backoff**, as socket.io-client's: after a failed connect (or a connection lost before it was
  stable) the next connect waits a randomized delay of at least ``MIN_RETRY_S`` (0.5 s) that doubles up to
  the cap, never shorter than the server's ``Retry-After``. It is reset only by a stable connection: a
  CONNECT ack that then stayed up at least ``STABLE_CONNECTION`` seconds.

REST calls wait for the window only; connects (the create call and the WebSocket) also wait for the backoff.
The caller does the waiting (`delay`, then `take`), so this module is tested on plain numbers.
"""

from __future__ import annotations

import random

__all__ = ["ATTEMPTS_PER_WINDOW", "MIN_RETRY_S", "STABLE_CONNECTION", "WINDOW_S", "ConnectPacer", "backoff_delay"]

STABLE_CONNECTION = 1.0
"""Seconds a connection must stay up after its CONNECT ack before its loss resets the backoff."""
MIN_RETRY_S = 0.5
"""The shortest wait before a retry (socket.io-client's first retry waits 0.5..1.5 s)."""
ATTEMPTS_PER_WINDOW = 2
WINDOW_S = 1.0
_WINDOW_MARGIN_S = 0.05  # a slot is taken a little before the server accepts: keep the server's view under 2/s


def backoff_delay(attempt: int, initial: float, cap: float, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before retry number `attempt` (1 = the first retry after a failure).

    Equal jitter over a doubling ceiling: uniform in [c/2, c] with ``c = min(cap, initial * 2**(attempt-1))``,
    never below ``MIN_RETRY_S`` (so the first retry waits at least 0.5 s whatever `initial` is), never above
    ``max(cap, MIN_RETRY_S)``, and never shorter than the server's `retry_after`.
    """
    ceiling = max(MIN_RETRY_S, min(cap, initial * (2.0 ** min(max(attempt, 1) - 1, 30))))
    delay = rng.uniform(max(MIN_RETRY_S, ceiling / 2.0), ceiling)
    if retry_after is not None and retry_after > delay:
        return float(retry_after)
    return delay


class ConnectPacer:
    """The attempt window and the connect backoff of one conversation (times are ``perf_counter`` seconds).

    Attributes:
        failures: connects failed (or lost unstable) since the last stable connection.
    """

    __slots__ = ("_cap", "_connected_at", "_initial", "_recent", "_retry_at", "_rng", "_window", "failures")

    def __init__(self, initial: float, cap: float, rng: random.Random, window: float = WINDOW_S) -> None:
        self._initial = initial
        self._cap = cap
        self._rng = rng
        self._window = window + _WINDOW_MARGIN_S
        self._recent: list[float] = []  # start times of the latest ATTEMPTS_PER_WINDOW attempts
        self._retry_at = 0.0
        self._connected_at: float | None = None
        self.failures = 0

    def delay(self, now: float, connect: bool) -> float:
        """Seconds until an attempt may start (0: now). `connect`: also wait for the backoff."""
        recent = self._recent
        wait = recent[0] + self._window - now if len(recent) >= ATTEMPTS_PER_WINDOW else 0.0
        if connect:
            wait = max(wait, self._retry_at - now)
        return max(0.0, wait)

    def take(self, now: float) -> None:
        """An attempt starts now (call right after `delay` returned 0, without yielding in between)."""
        recent = self._recent
        recent.append(now)
        if len(recent) > ATTEMPTS_PER_WINDOW:
            del recent[0]

    def failed(self, now: float, retry_after: float | None = None) -> float:
        """A connect failed: the next one waits a backoff (or `retry_after` when longer). Returns the wait."""
        self.failures += 1
        self._connected_at = None
        wait = backoff_delay(self.failures, self._initial, self._cap, retry_after, self._rng)
        self._retry_at = max(self._retry_at, now + wait)
        return wait

    def connected(self, at: float) -> None:
        """The CONNECT ack came at `at`."""
        self._connected_at = at

    def lost(self, now: float, own: bool = False) -> None:
        """The connection went away: a stable one resets the backoff; one lost sooner counts as a failure,
        unless the client dropped it on purpose (`own`: that says nothing about the server)."""
        at = self._connected_at
        if at is None:
            return  # not connected (a late report, or already counted)
        self._connected_at = None
        if now - at >= STABLE_CONNECTION:
            self.failures = 0
            self._retry_at = 0.0
        elif not own:
            self.failed(now)

    def retry_in(self, now: float) -> float:
        """Seconds until the backoff allows the next connect (0: now)."""
        return max(0.0, self._retry_at - now)
