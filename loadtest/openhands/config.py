"""Conversation settings and result records (pure: no I/O).

`ConversationConfig` is frozen and validated; the session API key never shows in its repr. `backoff_delay`
(the reconnect schedule, from `loadtest.openhands.pacing`) is re-exported here.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from loadtest.openhands.pacing import backoff_delay

__all__ = [
    "KEY_VIA",
    "ConnectResult",
    "ConversationConfig",
    "ReadyResult",
    "ReconnectResult",
    "backoff_delay",
]

KeyVia = Literal["query", "header", "cookie"]
KEY_VIA: tuple[str, ...] = ("query", "header", "cookie")


def _positive(name: str, value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"ConversationConfig.{name} must be a number > 0, got {value!r}")


@dataclass(frozen=True)
class ConversationConfig:
    """How a `Conversation` talks to its server.

    Attributes:
        base_url: ``http://host:port`` of the server (REST and Socket.IO).
        session_api_key: the server's session API key, or None (secret: never in reprs or logs).
        key_via: how the socket carries the key: ``query`` (``session_api_key=``, as the OpenHands frontend
            does, sending ``null`` when there is none), ``header`` (``X-Session-API-Key``) or ``cookie``
            (``session_api_key``). REST calls always use the header.
        providers: ``providers_set`` values (``github``, ``gitlab``...), sent comma-joined.
        connect_timeout: seconds for one connect (handshake + replay + CONNECT ack).
        turn_timeout: seconds a turn may take before its end state is ``timeout``.
        audit_holes: ask the server (REST) about id holes, so that withheld ids are not counted as gaps.
        socketio_path: the Socket.IO path on the server.
        backoff_initial: first reconnect backoff ceiling, seconds (doubles per failed attempt; each wait is
            uniform in [ceiling/2, ceiling] and at least 0.5 s; see `loadtest.openhands.pacing`).
        backoff_max: backoff ceiling cap, seconds.
        reconnect_max_attempts: default attempt bound of `Conversation.reconnect`.
        reconnect_deadline: default time bound of `Conversation.reconnect`, seconds.
        resync_timeout: how long `reconnect` waits for the first live event when a turn is in flight.
        http_delayed_ms: a successful REST call at least this slow is throttle ``http_delayed``.
        audit_batch: open holes that trigger an audit of live holes (one REST page).
        audit_max_pages: REST pages one audit may read; holes beyond are counted as gaps, unaudited.
        audit_rate: REST pages per second that all hole audits of this process may read together.
        audit_span: at the end of a turn, with no other turn in flight, the live holes are audited once the
            maximum id has grown this much since the last audit (so an audit stays within one REST page).
        source_address: local IP address every socket and REST connection binds before connecting (e.g.
            ``127.0.0.2``), so a per-client-IP limiter sees this conversation as its own client; None: default.
        ready_timeout: seconds `Conversation.wait_ready` polls at most.
        ready_poll: the longest pause between two readiness polls, seconds (the OpenHands frontend polls every
            3 s while a conversation starts); polls start at ``min(0.5, ready_poll)`` and double up to it.
        deflate: offer WebSocket permessage-deflate (for servers that require compression; it costs CPU on
            both sides: see benchmarks/README.md).
    """

    base_url: str
    session_api_key: str | None = field(default=None, repr=False)
    key_via: KeyVia = "query"
    providers: tuple[str, ...] = ()
    connect_timeout: float = 30.0
    turn_timeout: float = 120.0
    audit_holes: bool = True
    socketio_path: str = "socket.io"
    backoff_initial: float = 1.0
    backoff_max: float = 8.0
    reconnect_max_attempts: int = 10
    reconnect_deadline: float = 60.0
    resync_timeout: float = 10.0
    http_delayed_ms: float = 900.0
    audit_batch: int = 100
    audit_max_pages: int = 20
    audit_rate: float = 4.0
    audit_span: int = 80
    source_address: str | None = None
    ready_timeout: float = 120.0
    ready_poll: float = 3.0
    deflate: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://", "ws", "wss")):
            raise ValueError(f"ConversationConfig.base_url must be an http(s) URL, got {self.base_url!r}")
        if self.key_via not in KEY_VIA:
            raise ValueError(f"ConversationConfig.key_via must be one of {', '.join(KEY_VIA)}, got {self.key_via!r}")
        if self.session_api_key == "":
            raise ValueError("ConversationConfig.session_api_key must be None or a non-empty string")
        if isinstance(self.providers, str):
            raise ValueError("ConversationConfig.providers must be a tuple of names, e.g. ('github',)")
        for name in (
            "connect_timeout",
            "turn_timeout",
            "backoff_initial",
            "backoff_max",
            "reconnect_deadline",
            "resync_timeout",
            "http_delayed_ms",
            "audit_rate",
            "ready_timeout",
            "ready_poll",
        ):
            _positive(name, getattr(self, name))
        if self.source_address is not None:
            try:
                ipaddress.ip_address(self.source_address)
            except ValueError:
                raise ValueError(
                    f"ConversationConfig.source_address must be an IP address, got {self.source_address!r}"
                ) from None
        for name in ("reconnect_max_attempts", "audit_batch", "audit_max_pages", "audit_span"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ConversationConfig.{name} must be an integer >= 1, got {value!r}")

    def __repr__(self) -> str:
        key = "<redacted>" if self.session_api_key is not None else "None"
        return (
            f"ConversationConfig(base_url={self.base_url!r}, session_api_key={key}, key_via={self.key_via!r}, "
            f"providers={self.providers!r}, audit_holes={self.audit_holes}"
            + (f", source_address={self.source_address!r})" if self.source_address else ")")
        )


@dataclass(frozen=True, slots=True)
class ConnectResult:
    """One successful connect.

    Attributes:
        duration_ms: start of the WebSocket handshake to the Socket.IO CONNECT ack (replay included).
        replayed_events: events received before the CONNECT ack.
        replay_bytes: their frame bytes.
        started_at: perf_counter seconds at the handshake start.
        connected_at: perf_counter seconds at the CONNECT ack (transport receive stamp).
    """

    duration_ms: float
    replayed_events: int
    replay_bytes: int
    started_at: float
    connected_at: float


@dataclass(frozen=True, slots=True)
class ReadyResult:
    """The outcome of `Conversation.wait_ready` (as the OpenHands frontend, join only once RUNNING).

    Attributes:
        ok: REST reported status ``RUNNING`` with a runtime status set and not ``STATUS$STOPPED``.
        ready_ms: from the start of the wait (right after the create, for a new conversation) to the response
            of the poll that saw it ready; None unless ok.
        polls: ``GET /api/conversations/{id}`` calls made.
        status: the last ``status`` seen (``STARTING``, ``RUNNING``, ``STOPPED``...), None if none was read.
        runtime_status: the last ``runtime_status`` seen.
        outcome: ``ready``; ``timeout`` (still starting at ``ready_timeout``); ``not_starting`` (the server
            reports a conversation that is not starting, e.g. ``STOPPED``: joining restarts it); ``unsupported``
            (the server has no such route or answered without a status: join at once).
    """

    ok: bool
    ready_ms: float | None
    polls: int
    status: str | None
    runtime_status: str | None
    outcome: str


@dataclass(frozen=True, slots=True)
class ReconnectResult:
    """The outcome of `Conversation.reconnect`.

    Attributes:
        ok: connected again.
        attempts: connect attempts made.
        recovery_ms: connection lost → CONNECT ack again (None unless ok).
        resync_ms: connection lost → caught up: the CONNECT ack when no turn was in flight after the replay,
            else the first new live event (None if it did not come within ``resync_timeout``).
        replayed_events: events replayed by the successful attempt.
        error: the last attempt's exception when not ok (stable repr, no secrets).
        cause: the last attempt's failure in words a user can act on (``connect refused (127.0.0.1:9)``),
            None when ok.
    """

    ok: bool
    attempts: int
    recovery_ms: float | None
    resync_ms: float | None
    replayed_events: int = 0
    error: Any = None
    cause: str | None = None
