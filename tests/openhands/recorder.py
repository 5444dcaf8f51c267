"""A listener that records everything a Conversation reports (test helper)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from loadtest.openhands import Conversation, ConversationListener, EventKind, RestResult, Turn


class Recorder(ConversationListener):
    def __init__(self) -> None:
        self.kinds: list[EventKind] = []
        self.integrity: Counter[str] = Counter()
        self.signals: Counter[str] = Counter()
        self.disconnects: list[str] = []
        self.turns: list[Turn] = []
        self.rest: list[tuple[str, RestResult]] = []
        self.rest_retried: list[tuple[str, RestResult]] = []
        self.payloads_seen: list[Any] = []

    def on_event(self, conv: Conversation, kind: EventKind, size: int, received_at: float) -> None:
        self.kinds.append(kind)

    def on_integrity(self, conv: Conversation, kind: str, count: int) -> None:
        self.integrity[kind] += count

    def on_signal(self, conv: Conversation, signal: str) -> None:
        self.signals[signal] += 1

    def on_disconnect(self, conv: Conversation, reason: str) -> None:
        self.disconnects.append(reason)

    def on_turn(self, conv: Conversation, turn: Turn) -> None:
        self.turns.append(turn)

    def on_rest(self, conv: Conversation, call: str, result: RestResult) -> None:
        self.rest.append((call, result))

    def on_rest_retried(self, conv: Conversation, call: str, result: RestResult) -> None:
        self.rest_retried.append((call, result))
