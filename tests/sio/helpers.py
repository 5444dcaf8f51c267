"""Small helpers for the client tests: a recording handler and a bounded wait."""

from __future__ import annotations

# isort: split

import gevent

import time
from collections.abc import Callable
from typing import Any

from loadtest.sio import SocketIOClient


class Recorder:
    """Collects what a SocketIOClient delivers: events (name, args, connected-at-delivery) and disconnects."""

    def __init__(self) -> None:
        self.events: list[tuple[str, list[Any]]] = []
        self.connected_flags: list[bool] = []
        self.stamps: list[float] = []
        self.sizes: list[int] = []
        self.reasons: list[str] = []
        self.client: SocketIOClient | None = None

    def on_event(self, event: str, args: list[Any], received_at: float, size: int) -> None:
        self.events.append((event, args))
        self.stamps.append(received_at)
        self.sizes.append(size)
        self.connected_flags.append(bool(self.client and self.client.connected))

    def on_disconnect(self, reason: str) -> None:
        self.reasons.append(reason)

    def make(self, **kwargs: Any) -> SocketIOClient:
        self.client = SocketIOClient(on_event=self.on_event, on_disconnect=self.on_disconnect, **kwargs)
        return self.client

    def named(self, name: str) -> list[list[Any]]:
        return [args for event, args in self.events if event == name]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` every 10 ms until it holds or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        gevent.sleep(0.01)
    return condition()
