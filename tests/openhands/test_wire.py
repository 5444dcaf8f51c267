"""What the conversation puts on the wire: handshake query/header/cookie (a loopback stub records it)."""

from __future__ import annotations

# isort: split

import gevent
import gevent.server

import socket
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from loadtest.openhands import Conversation, ConversationConfig
from loadtest.sio.errors import HandshakeRejected
from tests.openhands.recorder import Recorder

KEY = "k3y-value"


class HandshakeRecorder:
    """A TCP server that records one HTTP upgrade request and answers 403 (so nothing else follows)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self._handle)

    def _handle(self, sock: socket.socket, _addr: object) -> None:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.requests.append((head[0].split(" ")[1], headers))
        sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")


@pytest.fixture
def recorder() -> Iterator[HandshakeRecorder]:
    rec = HandshakeRecorder()
    rec.server.start()
    try:
        yield rec
    finally:
        rec.server.stop(timeout=5)


def _connect(url: str, **kwargs: object) -> Recorder:
    listener = Recorder()
    conv = Conversation(ConversationConfig(url, **kwargs), "c" * 32, listener=listener, latest_event_id=41)  # type: ignore[arg-type]
    with pytest.raises(HandshakeRejected) as info:
        conv.connect()
    assert info.value.status == 403
    assert listener.signals["handshake_429"] == 0
    return listener


def test_query_like_the_frontend(recorder: HandshakeRecorder) -> None:
    url = f"http://127.0.0.1:{recorder.server.server_port}"
    _connect(url, session_api_key=KEY, providers=("github", "gitlab"))
    _connect(url)
    (path1, headers1), (path2, _) = recorder.requests
    parts = urlsplit(path1)
    assert parts.path == "/socket.io/"
    q = parse_qs(parts.query, keep_blank_values=True)
    assert q == {
        "EIO": ["4"],
        "transport": ["websocket"],
        "latest_event_id": ["41"],
        "conversation_id": ["c" * 32],
        "providers_set": ["github,gitlab"],
        "session_api_key": [KEY],
    }
    assert "x-session-api-key" not in headers1
    q2 = parse_qs(urlsplit(path2).query, keep_blank_values=True)
    assert q2["session_api_key"] == ["null"]  # the frontend sends the literal string when it has no key
    assert q2["providers_set"] == [""]


@pytest.mark.parametrize("via", ["header", "cookie"])
def test_key_via_header_or_cookie(recorder: HandshakeRecorder, via: str) -> None:
    url = f"http://127.0.0.1:{recorder.server.server_port}"
    _connect(url, session_api_key=KEY, key_via=via)
    path, headers = recorder.requests[0]
    assert KEY not in path and "session_api_key" not in path
    if via == "header":
        assert headers["x-session-api-key"] == KEY
    else:
        assert f"session_api_key={KEY}" in headers["cookie"]
