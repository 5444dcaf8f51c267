"""The hole audit: ask the server (REST, unfiltered events) which holes it withheld on purpose.

One `HoleAuditor` per conversation runs at most one greenlet at a time, working through a queue of
`HoleBatch`es (the holes taken at one quiet point). Each batch costs at most ``max_pages`` REST pages of
≤100 ids. A page answered with a retryable status (no answer: refused, reset, timed out; 429; 5xx) is
asked again after a short wait (its ``Retry-After`` when given); one still failing after a few tries is not a
verdict: its holes go back on the queue as a new batch, due after a backoff (doubling from 1 s, capped at
30 s, never sooner than the server's ``Retry-After``), at most ``retry_rounds`` times. Holes still unsettled
then, holes over the page bound, holes of a page refused for good (another 4xx) and holes still pending
when the auditor stops are ``unaudited``: reported apart (``on_unaudited``), never as gaps, because the
server never said they were missing. Every answer goes to ``on_result`` with whether it will be asked
again: only an answer that is final counts as a failed call.

All auditors of a process share a `Pacer` per rate (``audit_rate`` REST pages per second, default 4): OpenHands
limits REST per client IP (10/s, then a 1 s sleep, then 429), so a thousand conversations reconnecting at once
must not make the load generator throttle itself. Audits then take longer; gaps are counted when they finish.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.event

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loadtest.openhands.errors import retryable
from loadtest.openhands.events import classify
from loadtest.openhands.integrity import PHASE_LIVE, PHASE_REPLAY, Integrity, audit_holes
from loadtest.openhands.rest import RestResult

__all__ = ["HoleAuditor", "HoleBatch", "Pacer", "pacer", "pages"]

PAGE = 100
_TRIES = 3
_RETRY_CAP_S = 5.0
ROUND_BACKOFF_S = 1.0  # first delay before a batch's holes are audited again
ROUND_BACKOFF_MAX_S = 30.0
_LOGGED_GAPS = 5  # ids per log line
_GAP_LINES = [20]  # gap log lines left for this process (a server with many gaps must not flood the log)

log = logging.getLogger("loadtest.openhands")

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
    round: int = 0
    """How many times these holes were already tried (0: first audit)."""
    due: float = 0.0
    """perf_counter time before which the batch is not audited (a retry's backoff)."""


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
        on_unaudited: Callable[[int], None] | None = None,
        on_result: Callable[[RestResult, bool], None] | None = None,
        max_pages: int = 20,
        retry_rounds: int = 4,
        pace: Pacer | None = None,
        sleep: Callable[[float], Any] = gevent.sleep,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Args:
        integrity: the tracker whose pending holes the batches are.
        fetch: ``(start_id, limit) -> RestResult`` of the events page.
        on_gaps: called with the number of gaps each batch added (for listeners).
        on_unaudited: called with the number of holes given up unaudited (for listeners).
        on_result: called with every page's answer and whether that page will be asked again.
        max_pages: REST pages per batch.
        retry_rounds: times a batch's unsettled holes are queued again before they are given up.
        pace: spaces the REST calls (shared per process); None: no pacing.
        sleep: how to wait before a retry (honours ``Retry-After``, capped at 5 s within a round).
        clock: perf_counter-like clock for the rounds' due times.
        """
        self._integrity = integrity
        self._fetch = fetch
        self._on_gaps = on_gaps
        self._on_unaudited = on_unaudited
        self._on_result = on_result
        self._max_pages = max_pages
        self._retry_rounds = retry_rounds
        self._sleep = sleep
        self._clock = clock
        self._retry_after: float | None = None
        self._refused = False
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

    def stop(self) -> int:
        """Kill the worker; every hole still pending (queued, in flight or waiting for a retry) is given up as
        unaudited. Returns how many."""
        g, self._greenlet = self._greenlet, None
        self._queue.clear()
        if g is not None:
            g.kill(block=False)
        self._idle.set()
        return self._give_up(self._integrity.pending_ids())

    def _give_up(self, ids: list[int]) -> int:
        n = self._integrity.give_up(ids)
        if n and self._on_unaudited is not None:
            self._on_unaudited(n)
        return n

    def _run(self) -> None:
        try:
            while self._queue:
                now = self._clock()
                due = min(range(len(self._queue)), key=lambda i: self._queue[i].due)
                wait = self._queue[due].due - now
                if wait > 0:
                    self._sleep(wait)  # one wait, then that batch: each turn of the loop audits one batch
                self.audit(self._queue.pop(due))
        finally:
            self._greenlet = None
            self._idle.set()

    def audit(self, batch: HoleBatch) -> tuple[int, int]:
        """Audit one batch now (in this greenlet); returns (gaps, expected) added.

        Holes of pages that stayed throttled or failing are queued again (a later round, after a backoff)
        or, after ``retry_rounds`` rounds, given up as unaudited; holes over the page bound are given up.
        """
        windows, leftover = pages(batch.ids, self._max_pages)
        retry: list[int] = []
        refused: list[int] = []  # a 4xx other than 429: asking again will not help
        events: list[Any] = []
        self._retry_after = None
        last_round = batch.round >= self._retry_rounds
        for start, limit, in_window in windows:
            self._refused = False
            got = self._page(start, limit, last_round)
            if got is None:
                (refused if self._refused else retry).extend(in_window)
            else:
                events.extend(got)
        unsettled = set(retry) | set(leftover) | set(refused)
        audited = [i for i in batch.ids if i not in unsettled] if unsettled else batch.ids
        if batch.phase == PHASE_LIVE:  # holes a resume's replay was due to cover follow the replay's rules
            resumed = [i for i in audited if self._integrity.replay_window(i)]
            if resumed:
                audited = [i for i in audited if not self._integrity.replay_window(i)]
        else:
            resumed = []
        expected, gaps = audit_holes(audited, events, batch.phase, batch.state_seen)
        if resumed:
            more_expected, more_gaps = audit_holes(resumed, events, PHASE_REPLAY, True)
            expected |= more_expected
            gaps |= more_gaps
        n_gap, n_exp = self._integrity.resolve(expected, gaps)
        if n_gap and _GAP_LINES[0] > 0 and log.isEnabledFor(logging.INFO):
            _GAP_LINES[0] -= 1
            # which ids and kinds: the trace a rare gap against a real server needs to be explained later
            kinds = {c.id: c.kind.name for c in map(classify, events) if c.id in gaps}
            shown = sorted(gaps)[:_LOGGED_GAPS]
            log.info(
                "gap: ids %s (%s phase, round %d)",
                [(i, kinds.get(i, "absent")) for i in shown],
                batch.phase,
                batch.round,
            )
        if n_gap:
            self._on_gaps(n_gap)
        self._give_up(leftover)
        self._give_up(refused)
        if retry:
            if batch.round < self._retry_rounds:
                delay = min(ROUND_BACKOFF_S * 2.0**batch.round, ROUND_BACKOFF_MAX_S)
                if self._retry_after is not None:
                    delay = max(delay, self._retry_after)
                later = HoleBatch(retry, batch.phase, batch.state_seen, batch.round + 1, self._clock() + delay)
                self._queue.append(later)
                if self._greenlet is None:
                    self._idle.clear()
                    self._greenlet = gevent.spawn(self._run)
            else:
                self._give_up(retry)
        return n_gap, n_exp

    def _page(self, start: int, limit: int, last_round: bool) -> list[Any] | None:
        for attempt in range(1, _TRIES + 1):
            if self._pace is not None:
                wait = self._pace.delay(time.perf_counter())
                if wait > 0:
                    self._sleep(wait)
            res = self._fetch(start, limit)
            if res.ok:
                self._result(res, False)
                body = res.body
                events = body.get("events") if isinstance(body, dict) else None
                return events if isinstance(events, list) else None
            if res.retry_after is not None:
                self._retry_after = max(self._retry_after or 0.0, res.retry_after)
            if not retryable(res.status):
                self._result(res, False)
                self._refused = True
                return None
            self._result(res, not (last_round and attempt == _TRIES))
            if attempt < _TRIES:
                self._sleep(min(res.retry_after if res.retry_after is not None else 0.5, _RETRY_CAP_S))
        return None

    def _result(self, res: RestResult, retried: bool) -> None:
        if self._on_result is not None:
            self._on_result(res, retried)
