"""Independent peers for the reference-server tests: python-socketio's own client, raw WebSockets, Node.

Nothing here imports loadtest.sio or loadtest.openhands: the server is proven by other implementations.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import requests
import socketio
import websocket

from tests.support.procs import NODE_DIR

Event = dict[str, Any]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def state_of(event: Event) -> str | None:
    if event.get("observation") == "agent_state_changed":
        return str(event["extras"]["agent_state"])
    return None


class Peer:
    """A python-socketio client joined to one conversation, recording every `oh_event` with its arrival time."""

    def __init__(self, url: str, transports: tuple[str, ...] = ("websocket",)) -> None:
        self.url = url
        self.transports = list(transports)
        self.events: list[tuple[float, Event]] = []
        self.connect_error: Any = None
        self.disconnects: list[str] = []
        self.connected_at: float | None = None
        self.client = socketio.Client(reconnection=False)
        self.client.on("oh_event", self._on_event)
        self.client.on("connect_error", self._on_connect_error)
        self.client.on("disconnect", self._on_disconnect)
        self.client.on("connect", self._on_connect)

    def _on_event(self, data: Event) -> None:
        self.events.append((time.perf_counter(), data))

    def _on_connect_error(self, data: Any = None) -> None:
        self.connect_error = data

    def _on_connect(self) -> None:
        self.connected_at = time.perf_counter()

    def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnects.append(str(reason))

    def connect(self, conversation_id: str | None, latest_event_id: int = -1, **query: str) -> Peer:
        params: dict[str, Any] = {"latest_event_id": latest_event_id, **query}
        if conversation_id is not None:
            params["conversation_id"] = conversation_id
        self.client.connect(f"{self.url}/socket.io/?{urlencode(params)}", transports=self.transports, wait_timeout=10)
        return self

    def try_connect(self, conversation_id: str | None, **query: Any) -> Exception | None:
        try:
            self.connect(conversation_id, **query)
        except socketio.exceptions.ConnectionError as exc:
            return exc
        return None

    def send(self, content: str, event: str = "oh_user_action") -> float:
        sent = time.perf_counter()
        self.client.emit(event, {"action": "message", "args": {"content": content}})
        return sent

    def emit(self, event: str, data: Any) -> None:
        self.client.emit(event, data)

    @property
    def payloads(self) -> list[Event]:
        return [e for _, e in self.events]

    def ids(self) -> list[int]:
        return [e["id"] for e in self.payloads if isinstance(e.get("id"), int)]

    def states(self) -> list[str]:
        return [s for s in map(state_of, self.payloads) if s]

    def wait_state(self, state: str, count: int = 1, timeout: float = 5.0) -> bool:
        return wait_until(lambda: self.states().count(state) >= count, timeout)

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


@contextmanager
def peer(url: str, conversation_id: str | None, **kwargs: Any) -> Iterator[Peer]:
    p = Peer(url, **({"transports": kwargs.pop("transports")} if "transports" in kwargs else {}))
    p.connect(conversation_id, **kwargs)
    try:
        yield p
    finally:
        p.close()


def create(url: str, headers: dict[str, str] | None = None, **body: Any) -> str:
    r = requests.post(f"{url}/api/conversations", json=body, headers=headers or {}, timeout=10)
    r.raise_for_status()
    return str(r.json()["conversation_id"])


def rest_events(url: str, cid: str) -> list[Event]:
    out: list[Event] = []
    start = 0
    for _ in range(100):
        r = requests.get(f"{url}/api/conversations/{cid}/events", params={"start_id": start, "limit": 100}, timeout=10)
        r.raise_for_status()
        body = r.json()
        out.extend(body["events"])
        if not body["has_more"]:
            return out
        start = out[-1]["id"] + 1
    raise AssertionError("too many event pages")


class RawSocket:
    """A bare Engine.IO v4 WebSocket (websocket-client), for frames no well-behaved client would send."""

    def __init__(self, url: str, query: dict[str, Any]) -> None:
        ws_url = (
            url.replace("http://", "ws://") + "/socket.io/?" + urlencode({**query, "EIO": 4, "transport": "websocket"})
        )
        self.ws = websocket.create_connection(ws_url, timeout=5)
        opening = self.ws.recv()
        assert isinstance(opening, str) and opening.startswith("0{"), opening
        self.open = json.loads(opening[1:])

    def connect_namespace(self) -> list[str]:
        """Send a bare CONNECT; return every frame up to and including the CONNECT ack (replay first)."""
        self.ws.send("40")
        frames: list[str] = []
        for _ in range(10000):
            frame = self._recv()
            frames.append(frame)
            if frame.startswith(("40", "44")):
                return frames
        raise AssertionError("no CONNECT ack")

    def recv_until(self, predicate: Callable[[str], bool], timeout: float = 5.0) -> list[str]:
        frames: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(deadline - time.monotonic(), 0.01))
            frame = self._recv()
            if frame == "2":  # Engine.IO ping
                self.ws.send("3")
                continue
            frames.append(frame)
            if predicate(frame):
                return frames
        raise AssertionError(f"condition not met; got {frames[-5:]}")

    def _recv(self) -> str:
        frame = self.ws.recv()
        return frame if isinstance(frame, str) else frame.decode("latin-1")

    def close(self) -> None:
        self.ws.close()


def run_node(script: str, *args: str, timeout: float = 30.0) -> tuple[int, list[dict[str, Any]]]:
    proc = subprocess.run(
        ["node", str(NODE_DIR / script), *args], cwd=NODE_DIR, capture_output=True, text=True, timeout=timeout
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, lines
