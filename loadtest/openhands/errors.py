"""`ConversationError`, and the one-line causes a user can act on (pure: no I/O).

A failure's cause reads as what happened and, where we can tell, what to check::

    connect refused (127.0.0.1:9)
    DNS lookup failed (oh.invalid)
    timed out after 30 s
    connection closed without an answer (127.0.0.1:3000)
    HTTP 404 on POST /api/conversations (is --target an OpenHands server?)

Causes are stable (Locust groups failures by repr): they name the server's host and port, a method and a
route template, a status, a configured timeout; never the client's port, an id, a time or a secret.
"""

from __future__ import annotations

import errno
import http.client
import socket
import urllib.parse
from typing import TYPE_CHECKING

from loadtest.errors import LoadtestError
from loadtest.sio.errors import ConnectRefused, Disconnected
from loadtest.ws.errors import ConnectTimeout, HandshakeRejected, TransportError  # the sio ones subclass these

if TYPE_CHECKING:
    from loadtest.openhands.rest import RestResult

__all__ = ["ConversationError", "describe_exception", "describe_sio", "describe_status", "retryable", "target_of"]


_HINTS: dict[int, str] = {
    401: "check --session-api-key",
    403: "check --session-api-key",
    404: "is --target an OpenHands server?",
    405: "is --target an OpenHands server?",
    429: "the server's rate limiter",
    502: "a proxy in front of the server could not reach it",
    503: "the server is not ready",
}
_ERRNO_CAUSES: dict[int, str] = {
    errno.ECONNREFUSED: "connect refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection reset",
    errno.EPIPE: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EADDRNOTAVAIL: "source address not available",
    errno.ETIMEDOUT: "connect timed out",
}


class ConversationError(LoadtestError):
    """Creating the conversation over REST failed; carries the `RestResult` (no secrets in it)."""

    def __init__(self, result: RestResult) -> None:
        self.result = result
        super().__init__(f"create conversation failed: {result.cause or f'HTTP {result.status}'}")

    def __repr__(self) -> str:
        return f"ConversationError(status={self.result.status})"


def retryable(status: int) -> bool:
    """A REST answer worth asking again, later: no answer (``status`` 0: refused, reset, timed out), the rate
    limiter's 429, or a 5xx (a busy or restarting server, a gateway)."""
    return status == 0 or status == 429 or status >= 500


def target_of(url: str) -> str:
    """``host:port`` of an http(s)/ws(s) URL (the default port when none is given)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme in ("https", "wss") else 80
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}"


def describe_status(status: int, method: str, route: str) -> str:
    """``HTTP 404 on POST /api/conversations (is --target an OpenHands server?)``; `route` has no ids."""
    hint = _HINTS.get(status)
    if status >= 500 and hint is None:
        hint = "the server failed: see its log"
    return f"HTTP {status} on {method} {route}" + (f" ({hint})" if hint else "")


def describe_exception(exc: BaseException, target: str, timeout: float) -> str:
    """The cause of a request that got no answer, from the exception and everything it wraps."""
    seen = _chain(exc)
    for e in seen:
        if isinstance(e, socket.gaierror):
            return f"DNS lookup failed ({_host(target)})"
        if type(e).__name__ == "NameResolutionError":  # urllib3's wrapper of a gaierror
            return f"DNS lookup failed ({_host(target)})"
    for e in seen:
        if isinstance(e, TimeoutError) or "Timeout" in type(e).__name__:
            return f"timed out after {timeout:g} s"
    for e in seen:
        if isinstance(e, http.client.RemoteDisconnected):
            return f"connection closed without an answer ({target})"
        if isinstance(e, OSError) and e.errno in _ERRNO_CAUSES:
            return f"{_ERRNO_CAUSES[e.errno]} ({target})"
    return f"no answer ({type(exc).__name__}, {target})"


def describe_sio(exc: BaseException, target: str, timeout: float) -> str:
    """The cause of a failed WebSocket connect (our Socket.IO and WebSocket clients' errors)."""
    if isinstance(exc, HandshakeRejected):
        return describe_status(exc.status, "the WebSocket", "upgrade")
    if isinstance(exc, ConnectTimeout):
        return f"timed out after {timeout:g} s ({exc.stage})"
    if isinstance(exc, ConnectRefused):
        return f"the server refused the connection: {exc.message}"
    if isinstance(exc, Disconnected):
        return f"disconnected while connecting ({exc.reason})"
    if isinstance(exc, TransportError):
        kind = exc.kind
        if kind == "gaierror":
            return f"DNS lookup failed ({_host(target)})"
        if kind == "handshake" and "closed" in exc.detail:
            return f"connection closed without an answer ({target})"
        for code, cause in _ERRNO_CAUSES.items():
            if kind == errno.errorcode.get(code, "").lower():
                return f"{cause} ({target})"
        return f"connection failed: {kind} ({target})"
    return describe_exception(exc, target, timeout)


def _host(target: str) -> str:
    return target.rsplit(":", 1)[0].strip("[]")


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps (causes, contexts, exception arguments, urllib3's ``reason``), breadth first."""
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(out) < 16:
        e = todo.pop(0)
        if any(e is o for o in out):
            continue
        out.append(e)
        nested: list[object] = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo.extend(n for n in nested if isinstance(n, BaseException))
    return out
