"""Worker → master assembly of per-second measurements: the :class:`Assembler`.

Each process records into :class:`~loadtest.timeline.Second` objects (the one per-second model,
with its merge and its ``timeline.jsonl`` line); the master collects every process's seconds here
and releases each wall-clock second once, complete, in order.

Pure: no Locust, no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypedDict

from loadtest.timeline import Second

__all__ = ["Assembler", "SlicesPayload", "read_payload", "slices_payload"]


class SlicesPayload(TypedDict):
    """A worker's closed seconds, sent to the master (``report_to_master`` and the final message)."""

    slices: list[dict[str, object]]
    closed_through: int
    final: bool


def slices_payload(slices: Sequence[Second], closed_through: int, final: bool) -> SlicesPayload:
    return {"slices": [s.to_wire() for s in slices], "closed_through": closed_through, "final": final}


def read_payload(payload: object) -> tuple[list[Second], int, bool] | None:
    """A :class:`SlicesPayload` as received (None when it is not one): its seconds, closed-through, final."""
    if not isinstance(payload, dict) or not isinstance(payload.get("closed_through"), int | float):
        return None
    raw = payload.get("slices")
    slices = [Second.from_wire(s) for s in raw] if isinstance(raw, list) else []
    return slices, int(payload["closed_through"]), bool(payload.get("final"))


class Assembler:
    """Collects seconds from every process and releases each second once, in order, when complete.

    A second is complete when every process that has reported says it has closed that second
    (``closed_through``), or when it is ``max_lag`` seconds old (a slow or lost worker). Data that
    arrives for a second already released is merged into the next unreleased second and counted in
    :attr:`late`, so nothing is dropped or counted twice.
    """

    def __init__(self, start_second: int) -> None:
        self.start = start_second
        self.next = start_second
        self.pending: dict[int, Second] = {}
        self.closed: dict[str, int] = {}
        self.finished: set[str] = set()
        self.late = 0
        self.last_seen = start_second - 1

    def add(self, source: str, seconds: Iterable[Second], closed_through: int, *, final: bool = False) -> None:
        for s in seconds:
            second = max(s.second, self.start)
            if second < self.next:
                self.late += 1
                second = self.next
            target = self.pending.get(second)
            if target is None:
                target = self.pending[second] = Second(second)
            target.merge(s)
            self.last_seen = max(self.last_seen, second)
        self.closed[source] = max(self.closed.get(source, closed_through), closed_through)
        if final:
            self.finished.add(source)
        else:
            self.finished.discard(source)

    def expect(self, source: str) -> None:
        """Wait for ``source`` (a connected worker) before releasing any second, even before its first report:
        otherwise a worker whose first report lags another's would find its first seconds already released."""
        if source not in self.closed:
            self.closed[source] = self.start - 1

    def drop_source(self, source: str) -> None:
        """Stop waiting for ``source`` (a worker that quit or was lost)."""
        self.finished.add(source)

    def _complete_through(self) -> int | None:
        waiting = [c for src, c in self.closed.items() if src not in self.finished]
        if waiting:
            return min(waiting)
        return self.last_seen if self.closed else None

    def ready(self, now_second: int, max_lag: int) -> list[Second]:
        """Seconds that can be written now, oldest first, each exactly once (empty seconds included)."""
        limit = now_second - max_lag
        complete = self._complete_through()
        if complete is not None:
            limit = max(limit, complete)
        limit = min(limit, now_second - 1)
        return self._release(limit)

    def flush(self, through: int | None = None) -> list[Second]:
        """Every remaining second up to ``through`` (default: the last second seen)."""
        return self._release(self.last_seen if through is None else max(through, self.last_seen))

    def _release(self, limit: int) -> list[Second]:
        out: list[Second] = []
        while self.next <= limit:
            out.append(self.pending.pop(self.next) if self.next in self.pending else Second(self.next))
            self.next += 1
        return out
