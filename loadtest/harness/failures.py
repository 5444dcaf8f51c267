"""The failures the harness reports to Locust, with stable reprs so Locust's table groups them.

Locust keys a failure row by ``(request_type, name, repr(error))``; these reprs hold only a kind
(a state, a signal, a reason, a status), never an id, a time or a secret, so each kind is one row.
Errors raised by the client (``HandshakeRejected(status=429)``, ``ConnectRefused('...')``,
``Disconnected('server')``) are reported as they are: their reprs are stable too.

```
HarnessFailure
├── TurnFailed(state)        the turn ended in error/rate_limited/stopped/rejected/timeout
├── Throttled(signal)        a throttle signal (http_429, handshake_429, rate_limited_state...)
├── ServerSignal(signal)     an error the server reported (error_event, status_error)
├── ConnectionLost(reason)   the socket went away without us asking (server, ping_timeout, ...)
├── IntegrityFailure(kind)   event ids: gap, duplicate, out_of_order
├── ReconnectFailed(error)   every reconnect attempt failed; carries the last error's repr
├── NotReady(outcome)        a new conversation was not RUNNING within --ready-timeout
└── RestFailed(status)       a REST call answered non-2xx (0 = no answer)
```
"""

from __future__ import annotations

__all__ = [
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


class HarnessFailure(Exception):
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


class ReconnectFailed(HarnessFailure):
    """Every reconnect attempt failed; ``kind`` is the last error's repr."""


class NotReady(HarnessFailure):
    """The conversation did not reach ``RUNNING`` in time (``kind``: the wait's outcome, e.g. ``timeout``)."""


class RestFailed(HarnessFailure):
    """A REST call answered with a non-2xx status (0 when no answer came)."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(str(status))

    def __repr__(self) -> str:
        return f"RestFailed(status={self.status})"
