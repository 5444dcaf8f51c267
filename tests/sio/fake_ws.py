"""The raw WebSocket server of tests/ws, plus the Engine.IO opening the Socket.IO client tests script with it."""

from __future__ import annotations

from tests.ws.fake_ws import Conn, FakeServer, accept_key, frame, hold, read_request, text

__all__ = ["OPEN", "Conn", "FakeServer", "accept_key", "frame", "handshake", "hold", "read_request", "text"]

OPEN = '0{"sid":"fake","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'


def handshake(conn: Conn) -> None:
    """Send OPEN, read the client's CONNECT and ack it."""
    conn.send(text(OPEN))
    assert conn.read_text() == "40"
    conn.send(text('40{"sid":"ns"}'))
