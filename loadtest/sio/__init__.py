"""Our Socket.IO v5 client (Engine.IO v4 over WebSocket), gevent-native and free of Locust.

`SocketIOClient` is the public entry point; `loadtest.sio.packets` is the pure codec and
`loadtest.sio.errors` the error hierarchy.
"""

from __future__ import annotations

from loadtest.sio.client import SocketIOClient
from loadtest.sio.errors import (
    AckTimeout,
    ConnectRefused,
    ConnectTimeout,
    Disconnected,
    HandshakeRejected,
    ProtocolError,
    SioError,
    TransportError,
)
from loadtest.sio.records import (
    REASONS,
    AckResult,
    ClientCounters,
    ConnectInfo,
    DisconnectHandler,
    EventHandler,
)

__all__ = [
    "REASONS",
    "AckResult",
    "AckTimeout",
    "ClientCounters",
    "ConnectInfo",
    "ConnectRefused",
    "ConnectTimeout",
    "DisconnectHandler",
    "Disconnected",
    "EventHandler",
    "HandshakeRejected",
    "ProtocolError",
    "SioError",
    "SocketIOClient",
    "TransportError",
]
