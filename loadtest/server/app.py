"""Assemble the reference server: Engine.IO/Socket.IO (python-socketio ASGI) in front of the Starlette REST app.

SocketGate (handshake limit + log, oversize frames)
  -> socketio.ASGIApp: /socket.io/ -> OhSocketServer
                       everything else -> HttpLimitGate -> Starlette routes (rest.py)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import socketio

from loadtest.server.config import ServerConfig
from loadtest.server.gates import ASGIApp, HttpLimitGate, SocketGate
from loadtest.server.hub import Hub
from loadtest.server.limits import HandshakeLog, HttpLimiter, WindowLimiter
from loadtest.server.metrics import Metrics
from loadtest.server.netio import TransportRegistry
from loadtest.server.rest import build_rest
from loadtest.server.sockets import OhSocketServer, register
from loadtest.server.v1.app import with_v1
from loadtest.server.v1.hub import V1Hub
from loadtest.server.wire import RawAwarePacket

log = logging.getLogger("loadtest.server")


@dataclass
class ServerParts:
    """The assembled app and the objects behind it (for tests and the CLI)."""

    app: ASGIApp
    hub: Hub
    metrics: Metrics
    sio: OhSocketServer
    transports: TransportRegistry
    handshakes: HandshakeLog
    v1: V1Hub | None = None  # with --api v1|both


def build_server(config: ServerConfig, transports: TransportRegistry | None = None) -> ServerParts:
    metrics = Metrics()
    transports = TransportRegistry() if transports is None else transports
    sio = OhSocketServer(
        async_mode="asgi",
        cors_allowed_origins="*",
        max_http_buffer_size=config.max_payload,
        ping_interval=config.ping_interval,
        ping_timeout=config.ping_timeout,
        serializer=RawAwarePacket,
        logger=False,
        engineio_logger=False,
    )
    sio.metrics = metrics
    hub = Hub(config, metrics, sio, transports)
    register(sio, hub)
    handshakes = HandshakeLog(config.handshake_log_size)
    limiter = HttpLimiter(config.http_rate) if config.http_limit else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        if config.drop_every > 0:
            hub.spawn(hub.drop_forever())
        if config.close_delay > 0:
            hub.spawn(hub.close_idle_forever())
        try:
            yield
        finally:
            await hub.shutdown()

    rest = build_rest(hub, handshakes, lifespan)
    limited = HttpLimitGate(rest, metrics, limiter, config.http_sleep)
    inner = socketio.ASGIApp(sio, other_asgi_app=limited, socketio_path="socket.io")
    gate = SocketGate(
        inner,
        metrics,
        WindowLimiter(config.handshake_rate),
        handshakes,
        config.max_payload,
        retry_after=config.handshake_retry_after,
    )
    if config.api == "v0":
        return ServerParts(gate, hub, metrics, sio, transports, handshakes)
    app, v1 = with_v1(config, gate, metrics, transports, gate.limiter, handshakes)
    return ServerParts(app, hub, metrics, sio, transports, handshakes, v1)


def build_app(config: ServerConfig) -> ASGIApp:
    """The reference server as an ASGI app (run it with any ASGI server; `loadtest serve` uses uvicorn).

    Without `loadtest serve`'s uvicorn WebSocket protocol, `--drop-mode abrupt` falls back to clean drops.
    """
    return build_server(config).app
