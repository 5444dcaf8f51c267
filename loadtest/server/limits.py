"""Rate limiters as pure objects over an explicit clock value (seconds, monotonic); no I/O, no sleeping.

- `HttpLimiter`: OpenHands' `InMemoryRateLimiter` (per key sliding 1 s window, each request recorded before
  the check): more than `requests` in the window -> delay, more than twice that -> reject.
- `WindowLimiter`: at most `rate` accepted events per key in a sliding 1 s window; refused attempts are not
  recorded, and a refusal says how long until a slot frees (for `Retry-After`). Used for handshakes per IP and
  actions per connection.
- `HandshakeLog`: a bounded record of handshake attempts for `/debug/handshakes`.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["ok", "delay", "reject"]


class HttpLimiter:
    def __init__(self, requests: int = 10, window: float = 1.0) -> None:
        self.requests = requests
        self.window = window
        self._history: dict[str, deque[float]] = defaultdict(deque)

    def check(self, key: str, now: float) -> Verdict:
        history = self._history[key]
        while history and history[0] <= now - self.window:
            history.popleft()
        history.append(now)
        if len(history) > self.requests * 2:
            return "reject"
        if len(history) > self.requests:
            return "delay"
        return "ok"

    def forget_idle(self, now: float) -> None:
        """Drop keys with no request in the window (bounds memory)."""
        for key in [k for k, h in self._history.items() if not h or h[-1] <= now - self.window]:
            del self._history[key]


class WindowLimiter:
    def __init__(self, rate: float, window: float = 1.0) -> None:
        self.rate = rate
        # below one per window, widen the window: 0.5/s means one per 2 s
        self.window = window if rate <= 0 or rate * window >= 1 else 1.0 / rate
        self._limit = max(math.floor(rate * self.window), 1)
        self._accepted: dict[str, deque[float]] = defaultdict(deque)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def attempt(self, key: str, now: float) -> tuple[bool, float]:
        """(accepted, seconds until a slot frees when refused, else 0)."""
        if not self.enabled:
            return True, 0.0
        accepted = self._accepted[key]
        while accepted and accepted[0] <= now - self.window:
            accepted.popleft()
        if len(accepted) < self._limit:
            accepted.append(now)
            return True, 0.0
        return False, max(accepted[0] + self.window - now, 0.0)

    def forget(self, key: str) -> None:
        self._accepted.pop(key, None)


def retry_after_header(wait: float) -> str:
    """Whole seconds, at least 1 (HTTP `Retry-After` has no fractions)."""
    return str(max(1, math.ceil(wait)))


@dataclass(frozen=True, slots=True)
class HandshakeAttempt:
    t: float  # time.monotonic() of the server, which is CLOCK_MONOTONIC shared by processes on the machine
    ip: str
    port: int
    transport: str
    conversation_id: str | None
    status: int  # 101/200 when passed on to Engine.IO, 429 when refused
    retry_after: int | None


class HandshakeLog:
    def __init__(self, size: int) -> None:
        self.attempts: deque[HandshakeAttempt] = deque(maxlen=size)

    def add(self, attempt: HandshakeAttempt) -> None:
        self.attempts.append(attempt)

    def as_json(self, now: float) -> dict[str, object]:
        """{"now", "attempts": [...], "clients": {ip: [t, ...]}} with monotonic seconds."""
        rows = [
            {
                "t": a.t,
                "ip": a.ip,
                "port": a.port,
                "transport": a.transport,
                "conversation_id": a.conversation_id,
                "status": a.status,
                "retry_after": a.retry_after,
            }
            for a in self.attempts
        ]
        clients: dict[str, list[float]] = defaultdict(list)
        for a in self.attempts:
            clients[a.ip].append(a.t)
        return {"now": now, "attempts": rows, "clients": dict(clients)}
