"""`loadtest.ws.WebSocket` used directly, as a V1 client will: against a plain `websockets` server on loopback."""

from __future__ import annotations

# isort: split

import gevent

import json
import socket
import time
from typing import Any

import pytest

from loadtest.errors import LoadtestError
from loadtest.sio.errors import SioError
from loadtest.ws import ConnectTimeout, HandshakeRejected, TransportError, WebSocket, WsClosed, WsError
from tests.support.procs import PeerProcess
from tests.ws.fake_ws import Conn, FakeServer, hold


class Client:
    """A WebSocket with its messages and its close recorded."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.messages: list[tuple[bool, bytes, float]] = []
        self.closes: list[tuple[str, BaseException | None]] = []
        self.ws = WebSocket.open(url, timeout=10, **kwargs)
        self.ws.start(self._message, self._close)

    def _message(self, text: bool, payload: bytes, at: float) -> None:
        self.messages.append((text, payload, at))

    def _close(self, reason: str, error: BaseException | None) -> None:
        self.closes.append((reason, error))

    def wait(self, messages: int = 0, closes: int = 0, timeout: float = 10.0) -> None:
        with gevent.Timeout(timeout):
            while len(self.messages) < messages or len(self.closes) < closes:
                gevent.sleep(0.005)

    def first(self) -> dict[str, Any]:
        self.wait(messages=1)
        seen: dict[str, Any] = json.loads(self.messages[0][1])
        return seen


def _ws(peer: PeerProcess, path: str) -> str:
    return f"ws://127.0.0.1:{peer.port}{path}"


def test_query_headers_and_cookies_reach_the_server_and_messages_come_back(ws_peer: PeerProcess) -> None:
    stamp = "2026-04-01T10:00:00.123+00:00"  # a raw `+` would arrive as a space
    client = Client(
        _ws(ws_peer, "/echo?resend_mode=since"),
        query={"after_timestamp": stamp, "session_api_key": "k1"},
        headers={"X-Session-API-Key": "k2"},
        cookies={"a": "1", "b": "2"},
    )
    seen = client.first()
    assert seen["path"] == "/echo"
    assert seen["query"] == {"resend_mode": ["since"], "after_timestamp": [stamp], "session_api_key": ["k1"]}
    assert seen["headers"]["x-session-api-key"] == "k2" and seen["headers"]["cookie"] == "a=1; b=2"
    client.ws.send_text('{"kind":"MessageEvent","text":"héllo"}')
    client.ws.send_binary(b"\x00\x01")
    client.wait(messages=3)
    assert client.messages[1][:2] == (True, '{"kind":"MessageEvent","text":"héllo"}'.encode())
    assert client.messages[2][:2] == (False, b"\x00\x01")
    client.ws.close()
    assert client.closes == []  # a close we asked for is not reported as the connection ending on its own


def test_receive_stamps_are_monotonic_and_taken_at_the_read(ws_peer: PeerProcess) -> None:
    client = Client(_ws(ws_peer, "/echo"))
    client.first()
    sent_at = time.perf_counter()
    client.ws.send_text("burst 300")
    client.wait(messages=301)
    done = time.perf_counter()
    stamps = [at for _, _, at in client.messages[1:]]
    assert [json.loads(p)["i"] for _, p, _ in client.messages[1:]] == list(range(300))
    assert stamps == sorted(stamps) and sent_at < stamps[0] and stamps[-1] <= done
    client.ws.close()


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1013, "Too many connections for this conversation"), (4001, "Authentication failed"), (4004, "")],
)
def test_server_close_code_and_reason_are_kept(ws_peer: PeerProcess, code: int, reason: str) -> None:
    client = Client(_ws(ws_peer, f"/close/{code}"), query={"reason": reason} if reason else None)
    client.wait(closes=1)
    ((why, error),) = client.closes
    assert why == "server_close" and isinstance(error, WsClosed)
    assert (error.code, error.reason) == (code, reason) and repr(error) == f"WsClosed({code})"
    assert (client.ws.close_code, client.ws.close_reason) == (code, reason) and client.ws.closed
    assert isinstance(error, WsError) and isinstance(error, LoadtestError)
    with pytest.raises(OSError):
        client.ws.send_text("after the close")


def test_a_close_in_the_middle_of_a_conversation(ws_peer: PeerProcess) -> None:
    client = Client(_ws(ws_peer, "/echo"))
    client.first()
    client.ws.send_text("close 4001 Authentication failed")
    client.wait(closes=1)
    assert client.closes[0][0] == "server_close" and str(client.closes[0][1]) == (
        "closed by the server with 4001: Authentication failed"
    )


def test_our_close_code_and_reason_reach_the_server(ws_peer: PeerProcess) -> None:
    client = Client(_ws(ws_peer, "/echo"))
    client.first()
    with pytest.raises(ValueError):
        client.ws.close(1005)  # reserved: never sent
    assert not client.ws.closed
    client.ws.close(4000, "done here")
    with gevent.Timeout(10):
        while "client closed 4000 done here" not in ws_peer.lines:
            gevent.sleep(0.01)


@pytest.mark.parametrize(
    ("path", "status", "retry_after"), [("/reject/403", 403, None), ("/reject/429?retry_after=7", 429, 7.0)]
)
def test_a_refused_upgrade_is_handshake_rejected(
    ws_peer: PeerProcess, path: str, status: int, retry_after: float | None
) -> None:
    with pytest.raises(HandshakeRejected) as err:
        WebSocket.open(_ws(ws_peer, path), timeout=10)
    rejected = err.value
    assert (rejected.status, rejected.retry_after) == (status, retry_after)
    assert json.loads(rejected.body) == {"detail": f"refused with {status}"}
    assert repr(rejected) == f"HandshakeRejected(status={status})"
    assert isinstance(rejected, TransportError) and not isinstance(rejected, SioError)  # no Socket.IO in ws


def test_source_address_is_bound(ws_peer: PeerProcess) -> None:
    client = Client(_ws(ws_peer, "/echo"), source_address="127.0.0.2")
    assert client.first()["peer"] == "127.0.0.2"
    client.ws.close()


def test_silence_past_the_read_timeout_ends_the_connection() -> None:
    with FakeServer(lambda conn: hold(conn, 3.0)) as server:
        client = Client(server.url.replace("http", "ws") + "/quiet")
        assert client.ws._sock.gettimeout() is None  # no timer per recv: the watchdog does it
        started = time.perf_counter()
        client.ws.set_read_timeout(0.2)
        client.wait(closes=1)
        assert client.closes == [("read_timeout", None)] and 0.2 <= time.perf_counter() - started < 2.0


def test_eof_without_a_close_frame_is_transport_close() -> None:
    def drop(conn: Conn) -> None:
        conn.sock.shutdown(socket.SHUT_RDWR)

    with FakeServer(drop) as server:
        client = Client(server.url)
        client.wait(closes=1)
    assert client.closes == [("transport_close", None)] and client.ws.close_code is None


def test_refused_port_and_a_stalled_upgrade() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(TransportError) as err:
        WebSocket.open(f"ws://127.0.0.1:{port}/", timeout=5)
    assert repr(err.value) == "TransportError('econnrefused')"
    with FakeServer(hold, upgrade=False) as server, pytest.raises(ConnectTimeout) as stalled:
        WebSocket.open(server.url, timeout=0.5)
    assert repr(stalled.value) == "ConnectTimeout('transport')" and isinstance(stalled.value, TimeoutError)


class _Wire:
    """What reaches the peer: the kernel takes `first` bytes of the first direct send; gevent's sendall yields."""

    def __init__(self, first: int) -> None:
        self.out = bytearray()
        self.first = first

    def send(self, data: bytes) -> int:  # the raw, non-blocking OS socket
        n = min(len(data), self.first) if self.first else len(data)
        self.first = 0
        self.out += data[:n]
        return n

    def sendall(self, data: bytes) -> None:  # the gevent socket: blocks (switches) before it finishes
        gevent.sleep(0.05)
        self.out += data


def test_a_partly_sent_frame_is_finished_before_another_writer_starts() -> None:
    a, b = socket.socketpair()
    try:
        t = WebSocket(a, 1 << 20)  # type: ignore[arg-type]
        wire = _Wire(first=10)
        t._raw, t._sock = wire, wire  # type: ignore[assignment]
        big, small = b"b" * 1000, b"s" * 20
        writers = [gevent.spawn(t._send_raw, big), gevent.spawn(t._send_raw, small)]
        gevent.joinall(writers, timeout=5, raise_error=True)
        assert bytes(wire.out) == big + small
    finally:
        a.close()
        b.close()
