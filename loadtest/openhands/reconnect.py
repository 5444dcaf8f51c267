"""`reconnect`: a lost `Conversation` connects again, paced so that it never storms a server.

The first attempt after a stable connection's loss is immediate; every other attempt waits the
conversation's `ConnectPacer` backoff (a randomized 0.5 s or more, doubling to ``cfg.backoff_max``, never
shorter than a refusal's ``Retry-After``, reset only by a connection that stayed up). The pacer is the
conversation's, not this call's: a server that accepts and drops at once does not restart the backoff at
each call, and the REST calls the user makes meanwhile share the same two-per-second window.

`paced_reconnect` is that loop for either protocol: V0's `reconnect` and V1's
(`loadtest.openhands.v1.reconnect`) pass in their own attempt, the errors that mean "try again", and how
to measure the resync once connected.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.event

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from loadtest.openhands.config import ConnectResult, ReconnectResult
from loadtest.openhands.errors import ConversationError
from loadtest.sio.errors import SioError

if TYPE_CHECKING:
    from loadtest.openhands.conversation import Conversation
    from loadtest.openhands.pacing import ConnectPacer

__all__ = ["Redialable", "paced_reconnect", "reconnect"]


class _Limits(Protocol):
    @property
    def reconnect_max_attempts(self) -> int: ...
    @property
    def reconnect_deadline(self) -> float: ...


class Redialable(Protocol):
    """What `paced_reconnect` reads of a conversation (V0's and V1's both have it)."""

    @property
    def cfg(self) -> _Limits: ...
    @property
    def connected(self) -> bool: ...
    @property
    def pacer(self) -> ConnectPacer: ...
    @property
    def last_cause(self) -> str | None: ...
    @property
    def _lost_at(self) -> float | None: ...
    def drop(self, abrupt: bool = True) -> None: ...


def paced_reconnect(
    conv: Redialable,
    max_attempts: int | None,
    deadline: float | None,
    attempt: Callable[[float], ConnectResult],
    retryable: tuple[type[BaseException], ...],
    resync_ms: Callable[[ConnectResult, float, float], float | None],
    not_before: Callable[[], float] | None = None,
) -> ReconnectResult:
    """Connect `conv` again, each attempt paced by its `ConnectPacer`, within an attempt and a time bound.

    Args:
        max_attempts, deadline: the bounds (default ``cfg.reconnect_max_attempts``, ``cfg.reconnect_deadline``).
        attempt: one connect, given the loss time; raises one of `retryable` when the server refused or failed.
        retryable: the errors after which the next attempt follows (any other propagates).
        resync_ms: after a success ``(result, lost_at, end)`` → the ms from the loss to being in sync again.
        not_before: a perf_counter time before which no attempt may start (a refusal's ``Retry-After`` that the
            pacer does not hold); None: only the pacer's wait.

    Returns:
        `ReconnectResult`; when not ok, ``error`` is the last attempt's exception and ``cause`` its words.
    """
    cfg = conv.cfg
    if conv.connected:
        conv.drop(abrupt=False)
    lost_at = conv._lost_at if conv._lost_at is not None else time.perf_counter()
    attempts_max = max_attempts if max_attempts is not None else cfg.reconnect_max_attempts
    end = time.perf_counter() + (deadline if deadline is not None else cfg.reconnect_deadline)
    attempts = 0
    error: BaseException | None = None
    while attempts < attempts_max:
        now = time.perf_counter()
        hold = conv.pacer.retry_in(now)  # the backoff, or a refusal's Retry-After
        if not_before is not None:
            hold = max(hold, not_before() - now)
        if now + hold > end:
            break
        if hold > 0:
            gevent.sleep(hold)
        attempts += 1
        try:
            cr = attempt(lost_at)  # waits for its pacer slot; a failure schedules the next backoff
        except retryable as exc:
            error = exc
            continue
        recovery_ms = (cr.connected_at - lost_at) * 1000.0
        return ReconnectResult(True, attempts, recovery_ms, resync_ms(cr, lost_at, end), cr.replayed_events)
    cause = conv.last_cause if error is not None else "reconnect deadline passed before an attempt"
    return ReconnectResult(False, attempts, None, None, 0, error, cause)


def reconnect(conv: Conversation, max_attempts: int | None = None, deadline: float | None = None) -> ReconnectResult:
    """Connect `conv` again with ``latest_event_id`` = the maximum id seen, with backoff (`paced_reconnect`).

    Args:
        max_attempts: attempts at most (default ``cfg.reconnect_max_attempts``).
        deadline: seconds at most, waits included (default ``cfg.reconnect_deadline``).

    Returns:
        `ReconnectResult`; when not ok, ``error`` is the last attempt's exception and ``cause`` its words.
    """

    def attempt(lost_at: float) -> ConnectResult:
        conv._resync_from = lost_at
        conv._resync_at = None
        if conv._live is None:
            conv._live = gevent.event.Event()
        conv._live.clear()
        try:
            return conv.connect()
        except (SioError, ConversationError):
            conv._lost_at = lost_at
            raise

    def resync(cr: ConnectResult, lost_at: float, end: float) -> float | None:
        return _resync(conv, cr, lost_at, end)

    # any earlier refusal's Retry-After holds too (even from a connect() outside this loop)
    rr = paced_reconnect(
        conv, max_attempts, deadline, attempt, (SioError, ConversationError), resync, lambda: conv._not_before
    )
    if not rr.ok:
        conv._resync_from = None
    return rr


def _resync(conv: Conversation, cr: ConnectResult, lost_at: float, end: float) -> float | None:
    try:
        if not conv._turns.inflight:
            return (cr.connected_at - lost_at) * 1000.0
        if conv._resync_at is None and conv._live is not None:
            conv._live.wait(max(0.0, min(conv.cfg.resync_timeout, end - time.perf_counter())))
        at = conv._resync_at
        return None if at is None else (at - lost_at) * 1000.0
    finally:
        conv._resync_from = None
