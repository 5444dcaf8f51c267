"""Access to the TCP transports under uvicorn's WebSockets, for the abrupt-close fault.

ASGI has no way to close a connection without a close frame, so `loadtest serve` runs uvicorn with a
WebSocket protocol class that records each connection's transport by peer address. `TransportRegistry.abort`
then closes the TCP connection with no WebSocket close frame and no Engine.IO/Socket.IO goodbye.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any


class TransportRegistry:
    def __init__(self) -> None:
        self._by_peer: dict[tuple[str, int], asyncio.BaseTransport] = {}

    def __len__(self) -> int:
        return len(self._by_peer)

    def add(self, transport: asyncio.BaseTransport) -> None:
        peer = _peer(transport)
        if peer is not None:
            self._by_peer[peer] = transport

    def remove(self, transport: asyncio.BaseTransport) -> None:
        peer = _peer(transport)
        if peer is not None and self._by_peer.get(peer) is transport:
            del self._by_peer[peer]

    def abort(self, peer: tuple[str, int] | None) -> bool:
        """Reset the connection from `peer` (SO_LINGER 0, then abort); False when it is not a known WebSocket."""
        transport = self._by_peer.pop(peer, None) if peer is not None else None
        if transport is None or transport.is_closing():
            return False
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
        else:  # pragma: no cover
            transport.close()
        return True


def _peer(transport: asyncio.BaseTransport) -> tuple[str, int] | None:
    name = transport.get_extra_info("peername")
    if isinstance(name, tuple) and len(name) >= 2:
        return (str(name[0]), int(name[1]))
    return None


def websocket_protocol_class(registry: TransportRegistry) -> type[asyncio.Protocol]:
    """uvicorn's WebSocket protocol (websockets sans-I/O, else wsproto), registering transports in `registry`."""
    base: Any
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol as base
    except ImportError:  # pragma: no cover
        from uvicorn.protocols.websockets.wsproto_impl import WSProtocol as base

    class RegisteredWebSocketProtocol(base):  # type: ignore[misc,unused-ignore]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            registry.add(transport)
            super().connection_made(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            transport = getattr(self, "transport", None)
            if transport is not None:
                registry.remove(transport)
            super().connection_lost(exc)

    return RegisteredWebSocketProtocol
