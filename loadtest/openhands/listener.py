"""`ConversationListener`: the callbacks a `Conversation` makes (the harness subclasses it).

Every method is a no-op here. Callbacks run in the connection's reader greenlet (events, duplicates,
out-of-order, most signals, turns), in the caller's greenlet (REST signals, connect refusals, timed-out turns)
or in the conversation's hole-audit greenlet (gaps, its REST calls); keep them short and never block.
No callback carries a secret (keys, tokens) or a payload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from loadtest.openhands.conversation import Conversation
    from loadtest.openhands.events import EventKind
    from loadtest.openhands.rest import RestResult
    from loadtest.openhands.turns import Turn

__all__ = ["SIGNALS", "ConversationListener", "IntegrityKind"]

IntegrityKind = Literal["gap", "duplicate", "out_of_order", "unaudited", "history_reset"]

#: Signal names (shared with the harness counters, DESIGN §3).
SIGNALS: tuple[str, ...] = (
    "http_429",
    "http_delayed",
    "handshake_429",
    "connect_refused",
    "rate_limited_state",
    "too_many_conversations",
    "server_disconnect",
    "error_event",
    "status_error",
)


class ConversationListener:
    """Base class with no-op methods; override the ones you need."""

    def on_event(self, conv: Conversation, kind: EventKind, size: int, received_at: float) -> None:
        """Every ``oh_event`` received (replayed ones included), with its frame size and receive stamp."""

    def on_integrity(self, conv: Conversation, kind: IntegrityKind, count: int) -> None:
        """Gaps (after the hole audit), duplicates and out-of-order ids, as they are found.

        Also ``unaudited`` (holes the audit could not settle: not gaps) and ``history_reset`` (the server's ids
        restarted below our maximum, e.g. a restarted server that recreated the conversation; count 1).
        """

    def on_signal(self, conv: Conversation, signal: str) -> None:
        """A throttle or status signal (names in `SIGNALS`)."""

    def on_disconnect(self, conv: Conversation, reason: str) -> None:
        """Every connection loss, with the client's reason (``server``, ``client_abort``, ``ping_timeout``...)."""

    def on_turn(self, conv: Conversation, turn: Turn) -> None:
        """A turn ended (end state seen or timed out); for turns sent with ``wait=False``."""

    def on_rest(self, conv: Conversation, call: str, result: RestResult) -> None:
        """A REST call made by the conversation (``create``, ``ready``, ``events``, ``settings``) and its result.

        A call that is retried (``ready`` polls, hole-audit ``events`` pages) comes here once: its answer when it
        succeeded or failed for good (a status that asking again will not mend, or the retries ran out).
        """

    def on_rest_retried(self, conv: Conversation, call: str, result: RestResult) -> None:
        """A REST answer worth retrying (no answer, 429, 5xx) that will be asked again, later and paced.

        Not a failure: its throttle signal (``http_429``), if any, is sent to `on_signal` as well.
        """
