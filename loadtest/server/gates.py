"""ASGI middlewares: the handshake gate in front of Engine.IO, and OpenHands' per-IP HTTP limiter for REST.

`SocketGate` sees every request to `/socket.io/` before python-engineio does. A request without `sid` is a
new Engine.IO session (a direct WebSocket or a polling handshake): it is logged for `/debug/handshakes` and,
with `--handshake-rate`, refused over the rate with HTTP 429 and `Retry-After` (on a WebSocket, through the
ASGI WebSocket Denial Response extension, so no Engine.IO byte is ever sent). It also counts frames over
the payload limit, which Engine.IO answers by closing the connection (as OpenHands does).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from urllib.parse import parse_qs

from loadtest.server.limits import HandshakeAttempt, HandshakeLog, HttpLimiter, WindowLimiter, retry_after_header
from loadtest.server.metrics import Metrics

#: ASGI's connection scope and event messages: string keys, values of the types the ASGI spec gives each key.
Scope = MutableMapping[str, object]
Message = MutableMapping[str, object]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("loadtest.server.gates")
TOO_MANY = json.dumps({"message": "Too many requests"}, separators=(",", ":")).encode()
EXEMPT_PREFIXES = ("/metrics", "/debug/", "/assets")


def _client(scope: Scope) -> tuple[str, int]:
    client = scope.get("client")
    if isinstance(client, list | tuple) and client:
        return str(client[0]), int(client[1])
    return "unknown", 0


def _header(scope: Scope, name: bytes, default: bytes) -> bytes:
    """The last value of a (lower-case) request header, as ``dict(scope["headers"])`` would give it."""
    found = default
    headers = scope.get("headers") or []
    for pair in headers if isinstance(headers, list | tuple) else []:
        if pair[0] == name:
            found = pair[1]
    return found


async def send_429(scope: Scope, receive: Receive, send: Send, retry_after: str) -> None:
    headers = [(b"content-type", b"application/json"), (b"retry-after", retry_after.encode())]
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        extensions = scope.get("extensions")
        if isinstance(extensions, Mapping) and "websocket.http.response" in extensions:
            await send({"type": "websocket.http.response.start", "status": 429, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": TOO_MANY})
        else:  # pragma: no cover - servers without the denial-response extension answer 403
            await send({"type": "websocket.close", "code": 1008})
        return
    headers.append((b"content-length", str(len(TOO_MANY)).encode()))
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": TOO_MANY})


class SocketGate:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        limiter: WindowLimiter,
        handshakes: HandshakeLog,
        max_payload: int,
        path: str = "/socket.io",
        retry_after: int = 0,
    ) -> None:
        self.retry_after = retry_after  # a fixed Retry-After (seconds); 0: until the limiter frees a slot
        self.app = app
        self.metrics = metrics
        self.limiter = limiter
        self.handshakes = handshakes
        self.max_payload = max_payload
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not str(scope["path"]).startswith(self.path):
            await self.app(scope, receive, send)
            return
        query_string = scope.get("query_string", b"")
        query = parse_qs(query_string.decode("latin-1") if isinstance(query_string, bytes) else "")
        if "sid" not in query and not await self._admit(scope, receive, send, query):
            return
        if scope["type"] == "websocket":
            receive = self._watch(receive)
        elif scope.get("method") == "POST":
            length = _header(scope, b"content-length", b"0")
            if length.isdigit() and int(length) > self.max_payload:
                self._oversize(int(length))
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope, receive: Receive, send: Send, query: dict[str, list[str]]) -> bool:
        ip, port = _client(scope)
        now = time.monotonic()
        transport = query.get("transport", ["polling"])[0]
        conversation_id = query["conversation_id"][0] if query.get("conversation_id") else None
        ok, wait = self.limiter.attempt(ip, now)
        if ok:
            status = 101 if scope["type"] == "websocket" else 200
            self.handshakes.add(HandshakeAttempt(now, ip, port, transport, conversation_id, status, None))
            return True
        retry = str(self.retry_after) if self.retry_after > 0 else retry_after_header(wait)
        self.handshakes.add(HandshakeAttempt(now, ip, port, transport, conversation_id, 429, int(retry)))
        self.metrics.throttles["handshake_429"] += 1
        await send_429(scope, receive, send, retry)
        return False

    def _oversize(self, size: int) -> None:
        self.metrics.bad_input["oversize"] += 1
        log.warning("client frame of %d bytes is over the %d-byte limit; Engine.IO closes it", size, self.max_payload)

    def _watch(self, receive: Receive) -> Receive:
        limit = self.max_payload

        async def watched() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("text") or message.get("bytes") or ""
                if isinstance(data, str | bytes) and len(data) > limit:
                    self._oversize(len(data))
            return message

        return watched


class HttpLimitGate:
    """OpenHands' `RateLimitMiddleware` over every REST route (10 req/s per IP: sleep 1 s; over 20: 429)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, limiter: HttpLimiter | None, sleep_s: float) -> None:
        self.app = app
        self.metrics = metrics
        self.limiter = limiter
        self.sleep_s = sleep_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        self.metrics.http_requests_total += 1
        if self.limiter is not None:
            verdict = self.limiter.check(_client(scope)[0], time.monotonic())
            if verdict == "reject":
                self.metrics.throttles["http_429"] += 1
                await send_429(scope, receive, send, "1")
                return
            if verdict == "delay":
                self.metrics.throttles["http_delayed"] += 1
                await asyncio.sleep(self.sleep_s)
        await self.app(scope, receive, send)
