"""The Engine.IO endpoint over our WebSocket (`loadtest.ws`): its URL, opening it, and its words for a close.

Everything RFC 6455 lives in `loadtest.ws`; this module adds only what Engine.IO puts on top: the endpoint path
and ``EIO=4&transport=websocket`` before the caller's query, the Socket.IO error classes (the ws errors re-raised
as their `SioError` subclasses, same fields and reprs), and the disconnect reasons the client reports (a server
close frame is ``transport_close``, a silent connection past the ping timeout is ``ping_timeout``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from loadtest.sio.errors import ConnectTimeout, HandshakeRejected, ProtocolError, TransportError
from loadtest.ws import errors as ws_errors
from loadtest.ws.connection import WebSocket
from loadtest.ws.dial import Query

__all__ = ["WebSocket", "build_url", "open_transport", "sio_close"]

_REASONS = {"server_close": "transport_close", "read_timeout": "ping_timeout"}


def build_url(url: str, query: Query | None, socketio_path: str) -> tuple[str, str, int, bool]:
    """The ws(s) URL of the Engine.IO endpoint, and host, port and TLS flag of the server.

    Args:
        url: http(s) or ws(s) base URL; its path is ignored (use `socketio_path` for a prefix).
        query: extra query parameters, added after `EIO=4&transport=websocket`; sequences become repeated keys.
        socketio_path: the endpoint path, "socket.io" by default.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss"):
        raise ValueError(f"unsupported URL scheme {scheme!r}; use http, https, ws or wss")
    tls = scheme in ("https", "wss")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"no host in URL {url!r}")
    port = parts.port or (443 if tls else 80)
    path = "/" + socketio_path.strip("/") + "/"
    pairs: list[tuple[str, Any]] = [("EIO", "4"), ("transport", "websocket")]
    if query:
        pairs.extend(query.items() if isinstance(query, Mapping) else query)
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    ws_url = f"{'wss' if tls else 'ws'}://{netloc}{path}?{urlencode(pairs, doseq=True)}"
    return ws_url, host, port, tls


def open_transport(
    url: str,
    *,
    query: Query | None = None,
    headers: Mapping[str, str] | None = None,
    cookies: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    socketio_path: str = "socket.io",
    max_frame_bytes: int = 16 * 1024 * 1024,
    deflate: bool = False,
    source_address: str | None = None,
) -> WebSocket:
    """Open the WebSocket of the Engine.IO endpoint (see `WebSocket.open` for the arguments).

    Raises:
        HandshakeRejected: the server answered the upgrade with another status than 101.
        ConnectTimeout: ("transport") TCP connect or upgrade took longer than `timeout`.
        TransportError: anything else that prevented the connection.
    """
    ws_url = build_url(url, query, socketio_path)[0]
    try:
        return WebSocket.open(
            ws_url,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            max_frame_bytes=max_frame_bytes,
            deflate=deflate,
            source_address=source_address,
        )
    except ws_errors.HandshakeRejected as exc:
        raise HandshakeRejected(exc.status, exc.retry_after, exc.body) from exc
    except ws_errors.ConnectTimeout as exc:
        raise ConnectTimeout(exc.stage) from exc
    except ws_errors.TransportError as exc:
        raise TransportError(exc.kind, exc.detail) from exc


def sio_close(reason: str, error: BaseException | None) -> tuple[str, ProtocolError | None]:
    """The client's disconnect reason for a WebSocket's close reason, and the protocol error behind it if any."""
    if isinstance(error, ws_errors.ProtocolError):
        return reason, error if isinstance(error, ProtocolError) else ProtocolError(error.kind, error.prefix)
    return _REASONS.get(reason, reason), None
