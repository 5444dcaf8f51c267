"""`V1Listener`: the callbacks a `V1Conversation` makes, named as V0's `ConversationListener` (no-op here).

Callbacks run in the connection's reader greenlet (events, integrity, most signals, turns) or the caller's
(REST, refusals, timed-out turns). None carries a secret or a payload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtest.openhands.rest import RestResult
    from loadtest.openhands.v1.conversation import V1Conversation
    from loadtest.openhands.v1.events import V1Kind
    from loadtest.openhands.v1.turns import Turn

__all__ = ["V1_INTEGRITY", "V1_SIGNALS", "V1Listener"]

#: Integrity kinds: ``gap``, ``duplicate``, ``out_of_order`` (a late gap or seq), ``overlap`` (the expected
#: resume boundary), ``stale`` (below an unaudited floor), ``interleaved`` (live frames amid a replay),
#: ``missing_snapshot``, ``history_reset`` (the seq log restarted), ``filled`` (delivered by REST, not the socket).
V1_INTEGRITY: tuple[str, ...] = (
    "gap",
    "duplicate",
    "out_of_order",
    "overlap",
    "stale",
    "interleaved",
    "missing_snapshot",
    "history_reset",
    "filled",
)

#: Signals: refusals and limits (see `config.signal_for_close`, `config.signal_for_rest`) and error events.
V1_SIGNALS: tuple[str, ...] = (
    "socket_cap",
    "auth_failed",
    "unknown_conversation",
    "handshake_403",
    "handshake_429",
    "run_limit",
    "concurrency_limit",
    "http_429",
    "http_delayed",
    "server_disconnect",
    "error_event",
)


class V1Listener:
    """Base class with no-op methods; override the ones you need."""

    def on_event(self, conv: V1Conversation, kind: V1Kind, size: int, received_at: float) -> None:
        """Every event received (replayed and duplicated ones included; deltas too), with its frame size."""

    def on_integrity(self, conv: V1Conversation, kind: str, count: int) -> None:
        """An integrity finding (kinds in `V1_INTEGRITY`)."""

    def on_signal(self, conv: V1Conversation, signal: str) -> None:
        """A limit, refusal or error signal (names in `V1_SIGNALS`)."""

    def on_disconnect(self, conv: V1Conversation, reason: str) -> None:
        """Every connection loss, with the ws close reason (``server_close``, ``transport_close``...)."""

    def on_turn(self, conv: V1Conversation, turn: Turn) -> None:
        """A turn ended (end state seen or timed out)."""

    def on_rest(self, conv: V1Conversation, call: str, result: RestResult) -> None:
        """A REST call made by the conversation (``create``, ``send``, ``run``, ``search``) and its result."""

    def on_rest_retried(self, conv: V1Conversation, call: str, result: RestResult) -> None:
        """A REST answer that will be asked again (as V0's listener; the V1 client reports none today)."""
