"""Errors raised by the WebSocket client, one small hierarchy under `loadtest.errors.LoadtestError`.

```
WsError
├── ProtocolError       a frame that breaks RFC 6455 / RFC 7692 (also a ValueError)
├── TransportError      the TCP connection or the upgrade failed, or the socket broke while in use
│   └── HandshakeRejected   the server answered the upgrade with a non-101 status (403, 429, ...)
├── ConnectTimeout      TCP connect plus upgrade took longer than the timeout (also a TimeoutError)
└── WsClosed            the server closed the WebSocket; carries its close code and reason
```

Reprs are stable and carry no secrets (Locust groups failures by ``repr``): no body, no close reason text,
nothing that changes from one connection to the next. The details live in attributes and in ``str()``.
`loadtest.sio.errors` subclasses the first four so Socket.IO callers keep catching ``SioError``.
"""

from __future__ import annotations

from loadtest.errors import LoadtestError

__all__ = ["ConnectTimeout", "HandshakeRejected", "ProtocolError", "TransportError", "WsClosed", "WsError"]

_BODY_LIMIT = 512
_PREFIX_LIMIT = 40
_REASON_LIMIT = 123  # a close frame's payload is at most 125 bytes: 2 of code, the rest reason


class WsError(LoadtestError):
    """Root of every error the WebSocket client raises."""


class ProtocolError(WsError, ValueError):
    """Input that does not follow the wire format.

    Args:
        kind: a stable short name of the fault (``bad_ws_frame``, ``frame_too_large``, ``bad_deflate``, ...).
        prefix: the start of the offending input, quoted in ``str()`` (at most 40 characters).
    """

    def __init__(self, kind: str, prefix: str | bytes = "") -> None:
        self.kind = kind
        if isinstance(prefix, bytes | bytearray | memoryview):
            prefix = bytes(prefix[:_PREFIX_LIMIT]).decode("utf-8", "backslashreplace")
        self.prefix = prefix[:_PREFIX_LIMIT]
        super().__init__(kind, self.prefix)

    def __str__(self) -> str:
        return f"{self.kind}: {self.prefix!r}"

    def __repr__(self) -> str:
        return f"ProtocolError({self.kind!r})"


class TransportError(WsError):
    """The TCP connection or the WebSocket failed.

    Args:
        kind: a stable short name (``econnrefused``, ``handshake``, ``econnreset``, ...).
        detail: free text for logs (not in the repr).
    """

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(kind, detail)

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind

    def __repr__(self) -> str:
        return f"TransportError({self.kind!r})"


class HandshakeRejected(TransportError):
    """The server answered the WebSocket upgrade with an HTTP status other than 101.

    Args:
        status: the HTTP status code (e.g. 429, 403).
        retry_after: the ``Retry-After`` header in seconds, or None when absent or unparsable.
        body: the start of the response body (decoded, at most 512 characters).
    """

    def __init__(self, status: int, retry_after: float | None = None, body: str = "") -> None:
        self.status = status
        self.retry_after = retry_after
        self.body = body[:_BODY_LIMIT]
        super().__init__("handshake_rejected", f"HTTP {status}")

    def __str__(self) -> str:
        extra = f", retry after {self.retry_after:g}s" if self.retry_after is not None else ""
        return f"WebSocket upgrade rejected with HTTP {self.status}{extra}"

    def __repr__(self) -> str:
        return f"HandshakeRejected(status={self.status})"


class ConnectTimeout(WsError, TimeoutError):
    """The connection did not complete within the connect timeout.

    Args:
        stage: where it stalled; the WebSocket layer knows only ``transport`` (TCP connect and upgrade).
    """

    def __init__(self, stage: str = "transport") -> None:
        self.stage = stage
        super().__init__(stage)

    def __repr__(self) -> str:
        return f"ConnectTimeout({self.stage!r})"


class WsClosed(WsError):
    """The server closed the WebSocket with a close frame.

    Args:
        code: the close code (1000 normal, 1013 try again later, 4001, 4004, ...); 1005 when the frame had none.
        reason: the close reason the server gave (UTF-8, at most 123 bytes on the wire; not in the repr).
    """

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason[:_REASON_LIMIT]
        super().__init__(code, self.reason)

    def __str__(self) -> str:
        return f"closed by the server with {self.code}" + (f": {self.reason}" if self.reason else "")

    def __repr__(self) -> str:
        return f"WsClosed({self.code})"
