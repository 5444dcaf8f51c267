"""The failures the harness reports to Locust, with stable reprs so Locust's table groups them.

Locust keys a failure row by ``(request_type, name, repr(error))``; these reprs hold only a kind
(a state, a signal, a reason, a cause), never an id, a time or a secret, so each kind is one row.
Errors raised by the client (``HandshakeRejected(status=429)``, ``ConnectRefused('...')``,
``Disconnected('server')``) are reported as they are: their reprs are stable too.

Where a connection or a REST call got nowhere, the kind is the cause in a user's words (built by
`loadtest.openhands.errors`, carried by ``RestResult.cause``, ``ReconnectResult.cause`` and
``Conversation.last_cause``): ``RestFailed('connect refused (127.0.0.1:9)')``,
``RestFailed('HTTP 404 on POST /api/conversations (is --target an OpenHands server?)')``,
``ReconnectFailed('timed out after 30 s (transport)')``. ``status=0`` never shows.

```
HarnessFailure (a LoadtestError)
├── TurnFailed(state)        the turn ended in error/rate_limited/stopped/rejected/timeout
├── Throttled(signal)        a throttle signal (http_429, handshake_429, rate_limited_state...)
├── ServerSignal(signal)     an error the server reported (error_event, status_error)
├── ConnectionLost(reason)   the socket went away without us asking (server, ping_timeout, ...)
├── IntegrityFailure(kind)   event ids: gap, duplicate, out_of_order
├── ConnectFailed(cause)     a user's first connect failed (the cause, e.g. ``DNS lookup failed (host)``)
├── ReconnectFailed(cause)   every reconnect attempt failed; the last attempt's cause (or error repr)
├── NotReady(outcome)        a new conversation was not RUNNING within --ready-timeout
└── RestFailed(cause)        a REST call failed: HTTP status and route, or why no answer came
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadtest.errors import LoadtestError

if TYPE_CHECKING:
    from loadtest.openhands.config import ReconnectResult
    from loadtest.openhands.rest import RestResult

__all__ = [
    "ConnectFailed",
    "ConnectionLost",
    "HarnessFailure",
    "IntegrityFailure",
    "NotReady",
    "ReconnectFailed",
    "RestFailed",
    "ServerSignal",
    "Throttled",
    "TurnFailed",
]


class HarnessFailure(LoadtestError):
    """Root of the failures the harness reports; ``repr`` is ``Class('kind')``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind!r})"


class TurnFailed(HarnessFailure):
    """The turn ended in a state that is not a normal end (or timed out)."""


class Throttled(HarnessFailure):
    """A throttle or status signal from the server."""


class ServerSignal(HarnessFailure):
    """An error the server reported in the event stream (``error_event``, ``status_error``)."""


class ConnectionLost(HarnessFailure):
    """The connection was lost for a reason other than our own close or drop."""


class IntegrityFailure(HarnessFailure):
    """Event ids went wrong: a gap, a duplicate or an out-of-order id."""


class ConnectFailed(HarnessFailure):
    """A user's first connect failed; ``kind`` is the cause (``Conversation.last_cause``)."""

    @classmethod
    def of(cls, exc: BaseException, cause: str | None) -> BaseException:
        """The failure to report for `exc`: a `ConnectFailed` with its cause, else `exc` itself."""
        return cls(cause) if cause else exc


class ReconnectFailed(HarnessFailure):
    """Every reconnect attempt failed; ``kind`` is the last attempt's cause (else its error's repr)."""

    @classmethod
    def of(cls, result: ReconnectResult) -> ReconnectFailed:
        return cls(result.cause or repr(result.error))


class NotReady(HarnessFailure):
    """The conversation did not reach ``RUNNING`` in time (``kind``: the wait's outcome, e.g. ``timeout``)."""


class RestFailed(HarnessFailure):
    """A REST call failed: ``RestFailed(result)`` names the cause (``RestResult.cause``).

    ``RestFailed(404)`` (a bare status, the older form) still works: ``RestFailed(status=404)``, and for 0
    ``RestFailed('no answer')``.
    """

    def __init__(self, result: RestResult | int) -> None:
        if isinstance(result, int):
            self.status = result
            self.cause: str | None = None if result else "no answer"
        else:
            self.status = result.status
            self.cause = result.cause or ("no answer" if not result.status else f"HTTP {result.status}")
        super().__init__(self.cause or str(self.status))

    def __repr__(self) -> str:
        if self.cause is None:
            return f"RestFailed(status={self.status})"
        return f"RestFailed({self.cause!r})"
