"""`reconnect`: a lost `Conversation` connects again, paced so that it never storms a server.

The first attempt after a stable connection's loss is immediate; every other attempt waits the
conversation's `ConnectPacer` backoff (a randomized 0.5 s or more, doubling to ``cfg.backoff_max``, never
shorter than a refusal's ``Retry-After``, reset only by a connection that stayed up). The pacer is the
conversation's, not this call's: a server that accepts and drops at once does not restart the backoff at
each call, and the REST calls the user makes meanwhile share the same two-per-second window.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.event

import time
from typing import TYPE_CHECKING

from loadtest.openhands.config import ConnectResult, ReconnectResult
from loadtest.openhands.errors import ConversationError
from loadtest.sio.errors import SioError

if TYPE_CHECKING:
    from loadtest.openhands.conversation import Conversation

__all__ = ["reconnect"]


def reconnect(conv: Conversation, max_attempts: int | None = None, deadline: float | None = None) -> ReconnectResult:
    """Connect `conv` again with ``latest_event_id`` = the maximum id seen, with backoff.

    Args:
        max_attempts: attempts at most (default ``cfg.reconnect_max_attempts``).
        deadline: seconds at most, waits included (default ``cfg.reconnect_deadline``).

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
        # the backoff and any earlier refusal's Retry-After (even from a connect() outside this loop)
        hold = max(conv.pacer.retry_in(now), conv._not_before - now)
        if now + hold > end:
            break
        if hold > 0:
            gevent.sleep(hold)
        attempts += 1
        conv._resync_from = lost_at
        conv._resync_at = None
        if conv._live is None:
            conv._live = gevent.event.Event()
        conv._live.clear()
        try:
            cr = conv.connect()  # waits for its pacer slot; a failure schedules the next backoff
        except (SioError, ConversationError) as exc:
            error = exc
            conv._lost_at = lost_at
            continue
        recovery_ms = (cr.connected_at - lost_at) * 1000.0
        resync_ms = _resync(conv, cr, lost_at, end)
        return ReconnectResult(True, attempts, recovery_ms, resync_ms, cr.replayed_events)
    conv._resync_from = None
    cause = conv.last_cause if error is not None else "reconnect deadline passed before an attempt"
    return ReconnectResult(False, attempts, None, None, 0, error, cause)


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
