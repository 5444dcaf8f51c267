"""Independent V1 peers for the reference server's tests: `requests` for REST, `websockets.sync.client` for the
sockets (plain threads of the sync client run as greenlets under the test process's gevent patching)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.support.procs import ReferenceServer

KEY = "v1-test-key"
HEADERS = {"X-Session-API-Key": KEY}
DATA = Path(__file__).resolve().parents[2] / "data" / "v1"
Frame = dict[str, object]


def serve(*options: str) -> ReferenceServer:
    """`loadtest serve --api v1` with the test key and the given options."""
    return ReferenceServer("--api", "v1", "--session-api-key", KEY, *options)


def create(url: str, stream: bool = False, **extra: object) -> str:
    llm: dict[str, object] = {"model": "openai/mock-model", "api_key": "sk-secret-not-logged"}
    if stream:
        llm["stream"] = True
    body: dict[str, object] = {"agent": {"llm": llm, "tools": []}, "workspace": {"working_dir": "/w"}, **extra}
    resp = requests.post(f"{url}/api/conversations", json=body, headers=HEADERS, timeout=10)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def message(text: str) -> str:
    return json.dumps({"role": "user", "content": [{"type": "text", "text": text}]})


def socket_url(url: str, kind: str, cid: str, **query: str) -> str:
    base = url.replace("http://", "ws://") + f"/sockets/{kind}/{cid}"
    return base + ("?" + urlencode(query) if query else "")


def handshake_status(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status of a refused upgrade (101 when accepted: then the socket is closed at once)."""
    try:
        conn = connect(url, additional_headers=headers, open_timeout=5, legacy=True)
    except InvalidStatus as exc:
        return exc.response.status_code
    conn.close()
    return 101


@dataclass
class Socket:
    """One V1 socket with every received frame and its receive stamp (perf_counter)."""

    conn: ClientConnection
    frames: list[Frame] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)

    @classmethod
    def open(cls, url: str, kind: str, cid: str, via: str = "query", **query: str) -> Socket:
        headers: dict[str, str] = {}
        if via == "query":
            query = {"session_api_key": KEY, **query}
        elif via == "header":
            headers["X-Session-API-Key"] = KEY
        conn = connect(
            socket_url(url, kind, cid, **query), additional_headers=headers, open_timeout=5, max_size=None, legacy=True
        )
        if via == "frame":
            conn.send(json.dumps({"type": "auth", "session_api_key": KEY}))
        return cls(conn)

    def recv(self, timeout: float = 5.0) -> Frame:
        text = self.conn.recv(timeout)
        self.stamps.append(time.perf_counter())
        frame = json.loads(text)
        assert isinstance(frame, dict)
        self.frames.append(frame)
        return frame

    def until(self, done: Callable[[Frame], bool], timeout: float = 10.0) -> list[Frame]:
        """Frames received until (and including) the first for which `done` holds."""
        deadline = time.monotonic() + timeout
        got: list[Frame] = []
        while True:
            frame = self.recv(max(deadline - time.monotonic(), 0.01))
            got.append(frame)
            if done(frame):
                return got

    def quiet(self, seconds: float) -> list[Frame]:
        """Every frame that arrives within `seconds`."""
        got: list[Frame] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.recv(left))
            except TimeoutError:
                break
        return got

    def closed_with(self, timeout: float = 5.0) -> tuple[int | None, str]:
        """Read until the server closes; its close code and reason."""
        try:
            while True:
                self.recv(timeout)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")

    def send(self, text: str) -> float:
        self.conn.send(text)
        return time.perf_counter()

    def close(self) -> None:
        self.conn.close()


def event_of(frame: Frame) -> Frame:
    """The event inside a session envelope (or the frame itself on the events socket)."""
    inner = frame.get("event")
    return inner if isinstance(inner, dict) else frame


def is_end(frame: Frame) -> bool:
    """The end of a turn: a `full_state` whose execution_status is not running."""
    event = event_of(frame)
    value = event.get("value")
    return event.get("key") == "full_state" and isinstance(value, dict) and value.get("execution_status") != "running"


def describe(frame: Frame) -> str:
    """A frame's shape: envelope type, kind, state key, execution_status value, tool."""
    event = event_of(frame)
    parts = [str(frame["type"]) if "type" in frame and "event" in frame else "", str(event.get("kind", ""))]
    if event.get("key"):
        parts.append(str(event["key"]))
    if event.get("key") == "execution_status":
        parts.append(str(event.get("value")))
    if event.get("tool_name"):
        parts.append(str(event["tool_name"]))
    if "type" in frame and "event" not in frame:
        parts = [str(frame["type"])]
    return " ".join(p for p in parts if p)


def load_vector(name: str) -> tuple[dict[str, object], list[tuple[str, Frame]]]:
    """A captured `.jsonl` vector: its meta and its (`server`|`client`, frame) lines."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    meta = json.loads(lines[0])["meta"]
    out: list[tuple[str, Frame]] = []
    for line in lines[1:]:
        row = json.loads(line)
        side = "server" if "server" in row else "client"
        out.append((side, row[side]))
    return meta, out


def metrics(url: str) -> dict[str, float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
