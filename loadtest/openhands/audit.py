"""The hole audit: ask the server (REST, unfiltered events) which holes it withheld on purpose.

One `HoleAuditor` per conversation runs at most one greenlet at a time, working through a queue of
`HoleBatch`es (the holes taken at one quiet point). Each batch costs at most ``max_pages`` REST pages of
≤100 ids; holes it cannot audit (pages over the bound, a failed or throttled call) are counted as gaps
and as ``unaudited``.

All auditors of a process share a `Pacer` per rate (``audit_rate`` REST pages per second, default 4): OpenHands
limits REST per client IP (10/s, then a 1 s sleep, then 429), so a thousand conversations reconnecting at once
must not make the load generator throttle itself. Audits then take longer; gaps are counted when they finish.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.event

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loadtest.openhands.integrity import Integrity, audit_holes
from loadtest.openhands.rest import RestResult

__all__ = ["HoleAuditor", "HoleBatch", "Pacer", "pacer", "pages"]

PAGE = 100
_TRIES = 3
_RETRY_CAP_S = 5.0

Fetch = Callable[[int, int], RestResult]


class Pacer:
    """Spaces calls at least ``1/rate`` seconds apart, across every greenlet that uses it (no lock: gevent)."""

    __slots__ = ("_interval", "_next")

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate!r}")
        self._interval = 1.0 / rate
        self._next = 0.0

    def delay(self, now: float) -> float:
        """Reserve the next slot; returns how long to wait for it."""
        slot = max(now, self._next)
        self._next = slot + self._interval
        return slot - now


_pacers: dict[float, Pacer] = {}


def pacer(rate: float) -> Pacer:
    """The process-wide pacer for `rate` (auditors with the same rate share it)."""
    p = _pacers.get(rate)
    if p is None:
        p = _pacers[rate] = Pacer(rate)
    return p


@dataclass(frozen=True, slots=True)
class HoleBatch:
    """Holes taken at one quiet point, sorted, with the context `audit_holes` needs."""

    ids: list[int]
    phase: str
    state_seen: bool = True


def pages(ids: list[int], max_pages: int, page: int = PAGE) -> tuple[list[tuple[int, int, list[int]]], list[int]]:
    """Cover sorted `ids` with windows ``(start_id, limit, ids_in_window)`` of at most `page` ids.

    Returns:
        (windows, ids left over once `max_pages` windows are used).
    """
    windows: list[tuple[int, int, list[int]]] = []
    i, n = 0, len(ids)
    while i < n:
        if len(windows) >= max_pages:
            return windows, ids[i:]
        start = ids[i]
        j = i
        while j < n and ids[j] < start + page:
            j += 1
        windows.append((start, ids[j - 1] - start + 1, ids[i:j]))
        i = j
    return windows, []


class HoleAuditor:
    """Audits hole batches in one background greenlet, resolving them on an `Integrity`."""

    def __init__(
        self,
        integrity: Integrity,
        fetch: Fetch,
        on_gaps: Callable[[int], None],
        *,
        max_pages: int = 20,
        pace: Pacer | None = None,
        sleep: Callable[[float], Any] = gevent.sleep,
    ) -> None:
        """Args:
        integrity: the tracker whose pending holes the batches are.
        fetch: ``(start_id, limit) -> RestResult`` of the events page.
        on_gaps: called with the number of gaps each batch added (for listeners).
        max_pages: REST pages per batch.
        pace: spaces the REST calls (shared per process); None: no pacing.
        sleep: how to wait before a retry (honours ``Retry-After``, capped at 5 s).
        """
        self._integrity = integrity
        self._fetch = fetch
        self._on_gaps = on_gaps
        self._max_pages = max_pages
        self._sleep = sleep
        self._pace = pace
        self._queue: list[HoleBatch] = []
        self._greenlet: gevent.Greenlet | None = None
        self._idle = gevent.event.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def submit(self, batch: HoleBatch) -> None:
        """Queue a batch; starts the worker greenlet unless one is running."""
        if not batch.ids:
            return
        self._queue.append(batch)
        if self._greenlet is None:
            self._idle.clear()
            self._greenlet = gevent.spawn(self._run)

    def wait(self, timeout: float) -> bool:
        """Wait until every queued batch is resolved; False on timeout."""
        return bool(self._idle.wait(timeout))

    def stop(self) -> None:
        """Kill the worker (its batches stay pending on the tracker)."""
        g, self._greenlet = self._greenlet, None
        self._queue.clear()
        if g is not None:
            g.kill(block=False)
        self._idle.set()

    def _run(self) -> None:
        try:
            while self._queue:
                self.audit(self._queue.pop(0))
        finally:
            self._greenlet = None
            self._idle.set()

    def audit(self, batch: HoleBatch) -> tuple[int, int]:
        """Audit one batch now (in this greenlet); returns (gaps, expected) added."""
        windows, leftover = pages(batch.ids, self._max_pages)
        unaudited = list(leftover)
        events: list[Any] = []
        for start, limit, in_window in windows:
            got = self._page(start, limit)
            if got is None:
                unaudited.extend(in_window)
            else:
                events.extend(got)
        audited = [i for i in batch.ids if i not in set(unaudited)] if unaudited else batch.ids
        expected, gaps = audit_holes(audited, events, batch.phase, batch.state_seen)
        n_gap, n_exp = self._integrity.resolve(expected, gaps)
        n_un, _ = self._integrity.resolve((), unaudited)
        self._integrity.unaudited += n_un
        if n_gap + n_un:
            self._on_gaps(n_gap + n_un)
        return n_gap + n_un, n_exp

    def _page(self, start: int, limit: int) -> list[Any] | None:
        for _ in range(_TRIES):
            if self._pace is not None:
                wait = self._pace.delay(time.perf_counter())
                if wait > 0:
                    self._sleep(wait)
            res = self._fetch(start, limit)
            if res.ok:
                body = res.body
                events = body.get("events") if isinstance(body, dict) else None
                return events if isinstance(events, list) else None
            if res.status not in (0, 429) and res.status < 500:
                return None
            self._sleep(min(res.retry_after if res.retry_after is not None else 0.5, _RETRY_CAP_S))
        return None
