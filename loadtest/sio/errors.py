"""Errors raised by the Socket.IO client, one small hierarchy.

```
SioError
├── ProtocolError       a frame or packet that is not valid Engine.IO v4 / Socket.IO v5 (also a ValueError)
├── TransportError      the TCP connection or WebSocket could not be opened or broke while in use
│   └── HandshakeRejected   the server answered the WebSocket upgrade with a non-101 status (e.g. 429)
├── ConnectRefused      the server refused the namespace CONNECT (Socket.IO CONNECT_ERROR)
├── ConnectTimeout      no Engine.IO OPEN or namespace CONNECT ack within the connect timeout (also a TimeoutError)
├── AckTimeout          no ack within the call timeout (also a TimeoutError)
└── Disconnected        the connection is (or became) closed; carries the disconnect reason
```

Reprs are stable and carry no secrets: Locust groups failures by `repr(error)`, so a repr never contains a
sid, a token, a body, a timestamp or anything else that changes from one connection to the next. The
details live in attributes (and, where harmless, in `str()`).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AckTimeout",
    "ConnectRefused",
    "ConnectTimeout",
    "Disconnected",
    "HandshakeRejected",
    "ProtocolError",
    "SioError",
    "TransportError",
]

_BODY_LIMIT = 512
_PREFIX_LIMIT = 40


class SioError(Exception):
    """Root of every error the Socket.IO client raises."""


class ProtocolError(SioError, ValueError):
    """A frame or packet that does not follow the wire format.

    Args:
        kind: a stable short name of the fault (e.g. ``bad_type``, ``too_many_attachments``); used in reprs
            and as the key of ``ClientCounters.protocol_errors``.
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


class TransportError(SioError):
    """The TCP connection or the WebSocket failed.

    Args:
        kind: a stable short name (``connection_refused``, ``timeout``, ``handshake``, ``reset``, ...).
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


class ConnectRefused(SioError):
    """The server refused the namespace connection (Socket.IO CONNECT_ERROR, ``44{"message": ...}``).

    Args:
        message: the refusal message (e.g. ``invalid_session_api_key``).
        data: the optional ``data`` member of the CONNECT_ERROR payload.
    """

    def __init__(self, message: str, data: Any = None) -> None:
        self.message = message
        self.data = data
        super().__init__(message)

    def __repr__(self) -> str:
        return f"ConnectRefused({self.message!r})"


class ConnectTimeout(SioError, TimeoutError):
    """The connection did not complete within the connect timeout.

    Args:
        stage: where it stalled: ``transport`` (TCP/upgrade), ``open`` (Engine.IO OPEN) or ``namespace``
            (Socket.IO CONNECT ack).
    """

    def __init__(self, stage: str = "namespace") -> None:
        self.stage = stage
        super().__init__(stage)

    def __repr__(self) -> str:
        return f"ConnectTimeout({self.stage!r})"


class AckTimeout(SioError, TimeoutError):
    """No acknowledgement arrived within the call's timeout.

    Args:
        event: the event name that was emitted (not in the repr).
        timeout: the timeout in seconds (not in the repr).
    """

    def __init__(self, event: str = "", timeout: float | None = None) -> None:
        self.event = event
        self.timeout = timeout
        super().__init__()

    def __str__(self) -> str:
        return f"no ack for {self.event!r} within {self.timeout}s" if self.event else "no ack"

    def __repr__(self) -> str:
        return "AckTimeout()"


class Disconnected(SioError):
    """The connection is closed, or closed while an operation waited on it.

    Args:
        reason: one of the stable disconnect reasons (``client``, ``client_abort``, ``server``,
            ``transport_close``, ``transport_error``, ``ping_timeout``, ``protocol_error``) or
            ``not_connected`` when nothing was ever connected.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def __repr__(self) -> str:
        return f"Disconnected({self.reason!r})"
