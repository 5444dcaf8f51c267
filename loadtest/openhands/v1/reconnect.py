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

from typing import TYPE_CHECKING

from loadtest.errors import LoadtestError
from loadtest.openhands.config import ConnectResult, ReconnectResult
from loadtest.openhands.errors import describe_sio
from loadtest.openhands.reconnect import paced_reconnect
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
    """Connect `conv` again (resume per its strategy), paced (`paced_reconnect`); spawns the gap audit after a
    success. ``resync_ms`` is the recovery time.

    Returns:
        `ReconnectResult`; when not ok, ``error`` is the last attempt's exception and ``cause`` its words.
    """

    def attempt(lost_at: float) -> ConnectResult:
        return conv.connect()

    def resync(cr: ConnectResult, lost_at: float, end: float) -> float:
        if conv.cfg.audit:
            gevent.spawn(conv._audit_after_replay)
        return (cr.connected_at - lost_at) * 1000.0

    # WsError, V1Refused, V1CreateError: as the server answered
    return paced_reconnect(conv, max_attempts, deadline, attempt, (LoadtestError,), resync)
