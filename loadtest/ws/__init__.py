"""Our RFC 6455 WebSocket client, gevent-native, free of Locust and of any protocol above it.

`WebSocket.open(url, query=..., headers=..., cookies=..., source_address=...)` dials and upgrades;
`start(on_message, on_close)` runs the one reader greenlet (every message stamped with the `perf_counter()` of
the read that completed it); `send_text`, `close(code, reason)`, `abort`. A refused upgrade raises
`HandshakeRejected(status, retry_after, body)`; a server's close frame ends the connection with reason
``server_close`` and `WsClosed(code, reason)`. `loadtest.sio` (Engine.IO/Socket.IO) is built on it.
"""

from __future__ import annotations

from loadtest.ws.connection import REASONS, CloseHandler, MessageHandler, WebSocket
from loadtest.ws.errors import ConnectTimeout, HandshakeRejected, ProtocolError, TransportError, WsClosed, WsError
from loadtest.ws.upgrade import parse_retry_after

__all__ = [
    "REASONS",
    "CloseHandler",
    "ConnectTimeout",
    "HandshakeRejected",
    "MessageHandler",
    "ProtocolError",
    "TransportError",
    "WebSocket",
    "WsClosed",
    "WsError",
    "parse_retry_after",
]
