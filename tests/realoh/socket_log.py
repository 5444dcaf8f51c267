"""A python-socketio client that records every `oh_event` of one OpenHands conversation, for the real test."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import socketio


@dataclass(frozen=True)
class Received:
    at: float
    """time.monotonic() on arrival."""
    event: dict[str, Any]

    @property
    def id(self) -> int | None:
        value = self.event.get("id")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def state(self) -> str | None:
        if self.event.get("observation") != "agent_state_changed":
            return None
        return self.event.get("extras", {}).get("agent_state")

    def brief(self) -> str:
        e = self.event
        if e.get("status_update"):
            return f"status:{e.get('id')}"
        kind = e.get("action") or e.get("observation")
        state = f"={self.state}" if self.state else ""
        return f"{e.get('id')}:{e.get('source')}:{kind}{state}"


class SocketLog:
    """Connects with `latest_event_id` (websocket transport, bare CONNECT) and keeps what arrives."""

    def __init__(self, base_url: str, conversation_id: str, latest_event_id: int = -1) -> None:
        self.received: list[Received] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("oh_event", self._on_event)
        query = f"conversation_id={conversation_id}&latest_event_id={latest_event_id}&providers_set="
        self.started = time.monotonic()
        self.client.connect(f"{base_url}/?{query}", transports=["websocket"], wait_timeout=20)
        self.connected = time.monotonic()

    def _on_event(self, data: dict[str, Any]) -> None:
        self.received.append(Received(time.monotonic(), data))

    def emit_message(self, text: str) -> float:
        sent = time.monotonic()
        self.client.emit("oh_user_action", {"action": "message", "args": {"content": text}})
        return sent

    def wait_for(self, pred: Callable[[Received], bool], timeout: float, *, after: int = 0) -> Received:
        """The first received item from index `after` on that satisfies `pred`; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.received[after:]:
                if pred(item):
                    return item
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s; got {[r.brief() for r in self.received[after:]]}")

    def settle(self, quiet: float = 1.0, limit: float = 10.0) -> None:
        """Wait until nothing has arrived for `quiet` seconds (at most `limit`)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            last = self.received[-1].at if self.received else self.connected
            if time.monotonic() - last >= quiet:
                return
            time.sleep(0.05)

    def ids(self, after: int = 0) -> list[int]:
        return [r.id for r in self.received[after:] if r.id is not None]

    def close(self) -> None:
        self.client.disconnect()
