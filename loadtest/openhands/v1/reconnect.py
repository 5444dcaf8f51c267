"""`reconnect` of a `V1Conversation`, paced as V0's (`loadtest.openhands.reconnect`), and the causes of V1 failures.

The first attempt after a stable connection's loss is immediate; every other attempt waits the conversation's
`ConnectPacer` backoff (a randomized 0.5 s or more, doubling to ``cfg.backoff_max``, never shorter than a
refusal's ``Retry-After``, reset only by a connection that stayed up ``STABLE_CONNECTION`` after its first
snapshot). The pacer is the conversation's, not this call's, and every TCP connection the user opens meanwhile
(the upgrade, the create, ``events/search`` pages of a resume or an audit) takes a slot of the same
two-per-second window.
"""

from __future__ import annotations

# isort: split

import gevent

import time
from typing import TYPE_CHECKING

from loadtest.errors import LoadtestError
from loadtest.openhands.config import ReconnectResult
from loadtest.openhands.errors import describe_sio
from loadtest.ws import WsClosed

if TYPE_CHECKING:
    from loadtest.openhands.v1.conversation import V1Conversation

__all__ = ["describe_v1", "reconnect"]


def describe_v1(exc: BaseException, target: str, timeout: float) -> str:
    """The cause of a failed V1 connect, in a user's words: the refusal's close code and what to check, or the
    transport's cause (`describe_sio`). Stable: no client port, id or time."""
    if isinstance(exc, WsClosed):
        if exc.code == 1006:
            return f"connection closed before the first snapshot ({target})"
        return str(exc)  # V1Refused: the close code and what to check
    return describe_sio(exc, target, timeout)


def reconnect(conv: V1Conversation, max_attempts: int | None, deadline: float | None) -> ReconnectResult:
    """Connect `conv` again (resume per its strategy), paced; spawns the gap audit after a success.

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
        hold = conv.pacer.retry_in(time.perf_counter())  # the backoff, or a refusal's Retry-After
        if time.perf_counter() + hold > end:
            break
        if hold > 0:
            gevent.sleep(hold)
        attempts += 1
        try:
            cr = conv.connect()  # waits for its pacer slot; a failure schedules the next backoff
        except LoadtestError as exc:  # WsError, V1Refused, V1CreateError: as the server answered
            error = exc
            continue
        recovery_ms = (cr.connected_at - lost_at) * 1000.0
        if cfg.audit:
            gevent.spawn(conv._audit_after_replay)
        return ReconnectResult(True, attempts, recovery_ms, recovery_ms, cr.replayed_events)
    cause = conv.last_cause if error is not None else "reconnect deadline passed before an attempt"
    return ReconnectResult(False, attempts, None, None, 0, error, cause)
