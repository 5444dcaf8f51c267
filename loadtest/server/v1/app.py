"""Put V1 beside V0 on one port: `--api v1` (V1 owns `/api/…`) or `--api both` (told apart per request).

With `both`, a request goes to V1 when its path is under `/sockets/`, is `/ready`, names a conversation by a
UUID with dashes (V0 ids are 32 hex digits), is `/api/conversations/search|count`, or is a
`POST /api/conversations` whose JSON body has `agent`, `agent_settings`, `agent_profile_id` or `workspace`;
everything else (`/socket.io/`, V0 REST, `/metrics`, `/debug/…`) goes to V0 unchanged. `/metrics` and
`/debug/…` are always V0's (the counters are shared).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping

from starlette.applications import Starlette

from loadtest.server.config import ServerConfig
from loadtest.server.gates import SocketGate
from loadtest.server.limits import HandshakeLog, WindowLimiter
from loadtest.server.metrics import V1_FAULT_KINDS, Metrics
from loadtest.server.netio import TransportRegistry
from loadtest.server.v1.hub import V1Hub
from loadtest.server.v1.rest import build_rest_routes
from loadtest.server.v1.sockets import build_socket_routes

Scope = MutableMapping[str, object]
Message = MutableMapping[str, object]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
V1_CREATE_KEYS = frozenset({"agent", "agent_settings", "agent_profile_id", "workspace"})
ALWAYS_V0 = ("/metrics", "/debug/")
BASE = "/api/conversations"


def build_v1(cfg: ServerConfig, metrics: Metrics, transports: TransportRegistry) -> tuple[V1Hub, Starlette]:
    hub = V1Hub(cfg, metrics, transports)
    for kind in V1_FAULT_KINDS:
        metrics.faults[kind] += 0  # listed at 0 in /metrics
    for kind in ("socket_cap", "run_limit"):
        metrics.throttles[kind] += 0
    for kind in ("stream_deltas", "server_errors"):
        metrics.v1[kind] += 0
    metrics.gauges["v1_conversations"] = lambda: float(len(hub.conversations))
    metrics.gauges["v1_conversations_running"] = lambda: float(len(hub.running))
    metrics.gauges["v1_sockets"] = lambda: float(sum(len(p) for p in hub.peers.values()))
    app = Starlette(routes=[*build_rest_routes(hub), *build_socket_routes(hub)])
    return hub, app


def _v1_path(path: str) -> bool | None:
    """True/False when the path alone decides (for `both`); None for `POST /api/conversations` (body decides)."""
    if path.startswith("/sockets/") or path == "/ready":
        return True
    if path == BASE or path == BASE + "/":
        return None
    if path.startswith(BASE + "/"):
        head = path[len(BASE) + 1 :].split("/", 1)[0]
        return head in ("search", "count") or "-" in head
    return False


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read a request body and give back a `receive` that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body = message.get("body", b"")
        chunks.append(body if isinstance(body, bytes) else b"")
        if not message.get("more_body"):
            break
    data = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        return await receive()

    return data, replay


def _wants_v1(body: bytes) -> bool:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return False
    return isinstance(data, dict) and bool(V1_CREATE_KEYS & set(data))


class ApiDispatch:
    """The ASGI entry when V1 is on: routes each request to V0's stack or V1's, and runs V1's lifecycle."""

    def __init__(self, api: str, v0: ASGIApp, v1: ASGIApp, hub: V1Hub) -> None:
        self.api = api
        self.v0 = v0
        self.v1 = v1
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.v0(scope, self._lifespan(receive), send)
            return
        path = str(scope.get("path", ""))
        if path.startswith(ALWAYS_V0):
            await self.v0(scope, receive, send)
            return
        if self.api == "v1":
            if path.startswith("/socket.io"):
                await _not_found(scope, receive, send)
            else:
                await self.v1(scope, receive, send)
            return
        decided = _v1_path(path)
        if decided is None and kind == "http" and scope.get("method") == "POST":
            body, receive = await _buffered(receive)
            decided = _wants_v1(body)
        await (self.v1 if decided else self.v0)(scope, receive, send)

    def _lifespan(self, receive: Receive) -> Receive:
        hub = self.hub

        async def watched() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup" and hub.cfg.drop_every > 0:
                hub.spawn(hub.drop_forever())
            elif message["type"] == "lifespan.shutdown":
                await hub.shutdown()
            return message

        return watched


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.close", "code": 1008})
        return
    body = b'{"detail":"Not Found"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def with_v1(
    cfg: ServerConfig,
    v0: ASGIApp,
    metrics: Metrics,
    transports: TransportRegistry,
    limiter: WindowLimiter,
    handshakes: HandshakeLog,
) -> tuple[ASGIApp, V1Hub]:
    """V0's assembled app with V1 beside it (`cfg.api` is v1 or both); V1 sockets pass the same handshake gate."""
    hub, app = build_v1(cfg, metrics, transports)
    gated = SocketGate(app, metrics, limiter, handshakes, cfg.max_payload, path="/sockets",
                       retry_after=cfg.handshake_retry_after)  # fmt: skip
    return ApiDispatch(cfg.api, v0, gated, hub), hub
