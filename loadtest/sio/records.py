"""The values `SocketIOClient` hands out: connect info, ack results, counters, handler types, disconnect reasons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["REASONS", "AckResult", "ClientCounters", "ConnectInfo", "DisconnectHandler", "EventHandler"]

EventHandler = Callable[[str, list[Any], float, int], Any]
"""(event, args, received_at, frame_bytes); a non-None return value answers a server ack request."""
DisconnectHandler = Callable[[str], None]
"""(reason)"""

REASONS = ("client", "client_abort", "server", "transport_close", "transport_error", "ping_timeout", "protocol_error")


@dataclass(slots=True)
class ClientCounters:
    """Running counts for one client (cumulative over its connections).

    Args:
        frames_in: WebSocket messages received.
        bytes_in: their payload bytes.
        frames_out: WebSocket messages sent.
        bytes_out: their payload bytes.
        events_in: Socket.IO events delivered to handlers.
        pings: Engine.IO pings answered.
        late_acks: acks that arrived after their call had timed out.
        unknown_acks: acks for ids that were never pending.
        ack_timeouts: calls that timed out.
        lost_acks: calls failed by a disconnect while waiting.
        handler_errors: exceptions raised by handlers (logged, never fatal).
        other_namespace: packets for another namespace (ignored).
        protocol_errors: faults by `ProtocolError.kind`.
    """

    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    events_in: int = 0
    pings: int = 0
    late_acks: int = 0
    unknown_acks: int = 0
    ack_timeouts: int = 0
    lost_acks: int = 0
    handler_errors: int = 0
    other_namespace: int = 0
    protocol_errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConnectInfo:
    """How a connection was established (times are `time.perf_counter()` seconds).

    Args:
        started_at: before the TCP connect.
        upgraded_at: after the WebSocket upgrade.
        opened_at: when the Engine.IO OPEN frame was read.
        connected_at: when the namespace CONNECT ack was read.
        sid: the Socket.IO session id of the namespace.
        ping_interval: seconds between server pings.
        ping_timeout: seconds the server allows for a pong.
        events_before_ack: events delivered before the CONNECT ack (an OpenHands replay).
        bytes_before_ack: their frame bytes.
    """

    started_at: float
    upgraded_at: float
    opened_at: float
    connected_at: float
    sid: str
    ping_interval: float
    ping_timeout: float
    events_before_ack: int
    bytes_before_ack: int


@dataclass(frozen=True, slots=True)
class AckResult:
    """The answer to `call()`.

    Args:
        args: the ack's arguments.
        sent_at: `perf_counter()` just before the event was written.
        received_at: `perf_counter()` when the ack's frame was read.
    """

    args: list[Any]
    sent_at: float
    received_at: float

    @property
    def rtt_ms(self) -> float:
        """Round trip in milliseconds."""
        return (self.received_at - self.sent_at) * 1000.0
