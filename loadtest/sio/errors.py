"""Errors raised by the Socket.IO client, one small hierarchy.

```
SioError (a LoadtestError)
├── ProtocolError       a frame or packet that is not valid Engine.IO v4 / Socket.IO v5 (also a ValueError)
├── TransportError      the TCP connection or WebSocket could not be opened or broke while in use
│   └── HandshakeRejected   the server answered the WebSocket upgrade with a non-101 status (e.g. 429)
├── ConnectRefused      the server refused the namespace CONNECT (Socket.IO CONNECT_ERROR)
├── ConnectTimeout      no Engine.IO OPEN or namespace CONNECT ack within the connect timeout (also a TimeoutError)
├── AckTimeout          no ack within the call timeout (also a TimeoutError)
└── Disconnected        the connection is (or became) closed; carries the disconnect reason
```

`ProtocolError`, `TransportError`, `HandshakeRejected` and `ConnectTimeout` are also the WebSocket layer's
classes of the same names (`loadtest.ws.errors`, subclassed here with the same fields and reprs): the client
re-raises what `loadtest.ws` raises as these, so ``except SioError`` and ``except loadtest.ws.WsError`` both hold.

Reprs are stable and carry no secrets: Locust groups failures by `repr(error)`, so a repr never contains a
sid, a token, a body, a timestamp or anything else that changes from one connection to the next. The
details live in attributes (and, where harmless, in `str()`).
"""

from __future__ import annotations

from typing import Any

from loadtest import errors as _root
from loadtest.ws import errors as _ws

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


class SioError(_root.LoadtestError):
    """Root of every error the Socket.IO client raises."""


class ProtocolError(SioError, _ws.ProtocolError):
    """A frame or packet that does not follow the wire format.

    Args:
        kind: a stable short name of the fault (e.g. ``bad_type``, ``too_many_attachments``); used in reprs
            and as the key of ``ClientCounters.protocol_errors``.
        prefix: the start of the offending input, quoted in ``str()`` (at most 40 characters).
    """


class TransportError(SioError, _ws.TransportError):
    """The TCP connection or the WebSocket failed.

    Args:
        kind: a stable short name (``connection_refused``, ``timeout``, ``handshake``, ``reset``, ...).
        detail: free text for logs (not in the repr).
    """


class HandshakeRejected(TransportError, _ws.HandshakeRejected):
    """The server answered the WebSocket upgrade with an HTTP status other than 101.

    Args:
        status: the HTTP status code (e.g. 429, 403).
        retry_after: the ``Retry-After`` header in seconds, or None when absent or unparsable.
        body: the start of the response body (decoded, at most 512 characters).
    """


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


class ConnectTimeout(SioError, _ws.ConnectTimeout):
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
