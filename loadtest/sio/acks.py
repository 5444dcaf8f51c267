"""The acks a Socket.IO client waits for: ids handed out, results delivered, late and unknown acks told apart."""

from __future__ import annotations

# isort: split

from gevent.event import AsyncResult

import time
from typing import Any

from loadtest.sio.records import AckResult

__all__ = ["Acks"]

_EXPIRED_KEEP = 1024
_perf = time.perf_counter


class Acks:
    """Pending acks of one client (across its connections, ids keep counting up) and the ids whose wait expired."""

    __slots__ = ("_expired", "_next_id", "_pending")

    def __init__(self) -> None:
        self._next_id = 1
        self._pending: dict[int, tuple[AsyncResult, float]] | None = None
        self._expired: dict[int, None] | None = None

    def new(self) -> tuple[int, AsyncResult]:
        """A fresh ack id and the result its ack will set (sent time: now)."""
        ack_id = self._next_id
        self._next_id += 1
        result = AsyncResult()
        if self._pending is None:
            self._pending = {}
        self._pending[ack_id] = (result, _perf())
        return ack_id, result

    def drop(self, ack_id: int) -> None:
        """Forget an id whose event was never sent."""
        if self._pending is not None:
            self._pending.pop(ack_id, None)

    def expire(self, ack_id: int) -> bool:
        """The wait for `ack_id` timed out: remember it, so its late ack is told apart. False if already gone."""
        if self._pending is None or self._pending.pop(ack_id, None) is None:
            return False
        if self._expired is None:
            self._expired = {}
        self._expired[ack_id] = None
        if len(self._expired) > _EXPIRED_KEEP:
            del self._expired[next(iter(self._expired))]
        return True

    def resolve(self, ack_id: int, data: Any, received_at: float) -> str | None:
        """Deliver an ack; return None, or ``late`` (its wait had expired) or ``unknown`` (never asked for)."""
        entry = self._pending.pop(ack_id, None) if self._pending else None
        if entry is None:
            if self._expired is not None and ack_id in self._expired:
                del self._expired[ack_id]
                return "late"
            return "unknown"
        result, sent_at = entry
        result.set(AckResult(data, sent_at, received_at))
        return None

    def fail_all(self, error: BaseException) -> int:
        """Fail every pending ack with `error` (the connection closed); return how many there were."""
        pending, self._pending = self._pending, None
        if not pending:
            return 0
        for result, _ in pending.values():
            result.set_exception(error)
        return len(pending)
