"""Our own HTTP upgrade and permessage-deflate, against a scripted server and the reference server."""

from __future__ import annotations

# isort: split

import gevent
from gevent.server import StreamServer

import json
import socket
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from loadtest.sio import HandshakeRejected, SocketIOClient, TransportError
from loadtest.ws.deflate import DEFLATE_OFFER
from tests.sio.fake_ws import OPEN, Conn, accept_key, frame, hold, read_request, text
from tests.sio.helpers import Recorder, wait_for
from tests.support.procs import ReferenceServer


def _deflate(payload: str) -> bytes:
    """An independent permessage-deflate writer: raw deflate, sync flush, tail removed (RFC 7692 §7.2.1)."""
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = z.compress(payload.encode()) + z.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


class RawServer:
    """Answers each upgrade with `respond(request) -> bytes`, then runs `script(conn)` (if the answer was 101)."""

    def __init__(self, respond: Callable[[bytes], bytes], script: Callable[[Conn], Any] = hold) -> None:
        self.respond = respond
        self.script = script
        self.requests: list[bytes] = []
        self.server = StreamServer(("127.0.0.1", 0), self._handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def _handle(self, sock: socket.socket, _addr: Any) -> None:
        try:
            request = read_request(sock)
            if request is None:
                return
            self.requests.append(request)
            answer = self.respond(request)
            sock.sendall(answer)
            if answer.startswith(b"HTTP/1.1 101"):
                self.script(Conn(sock, request))
        except (EOFError, OSError):
            pass
        finally:
            gevent.sleep(0.05)
            sock.close()

    def __enter__(self) -> RawServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(timeout=1)


def _switching(extensions: str = "", accept: bytes | None = None) -> Callable[[bytes], bytes]:
    def respond(request: bytes) -> bytes:
        head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += b"Sec-WebSocket-Accept: " + (accept or accept_key(request)) + b"\r\n"
        if extensions:
            head += f"Sec-WebSocket-Extensions: {extensions}\r\n".encode()
        return head + b"\r\n"

    return respond


def test_deflated_messages_whole_and_fragmented_with_plain_ones_between() -> None:
    big = json.dumps({"id": 1, "content": "abc" * 5000})
    replies: list[tuple[int, bytes, bool]] = []

    def script(conn: Conn) -> None:
        conn.send(text(OPEN))
        assert conn.read_text() == "40"
        conn.send(text('40{"sid":"ns"}'))
        whole = _deflate(f'42["one",{big}]')
        conn.send(bytes([0xC1]) + frame(0x1, whole)[1:])  # FIN + RSV1 + text
        conn.send(text('42["plain",2]'))
        part = _deflate('42["two",{"x":"' + "y" * 3000 + '"}]')
        cut = len(part) // 2
        conn.send(bytes([0x41]) + frame(0x1, part[:cut], fin=False)[1:])  # RSV1 only on the first fragment
        conn.send(frame(0x0, part[cut:]))
        replies.append(conn.read_frame())  # our emit: never compressed
        hold(conn)

    with RawServer(_switching("permessage-deflate; server_no_context_takeover"), script) as server:
        rec = Recorder()
        client = rec.make(deflate=True)
        client.connect(server.url, timeout=10)
        assert wait_for(lambda: len(rec.events) == 3)
        client.emit("back", "z" * 2000)
        assert wait_for(lambda: len(replies) == 1)
        client.disconnect()
    assert DEFLATE_OFFER.encode() in server.requests[0]
    assert [e for e, _ in rec.events] == ["one", "plain", "two"]
    assert rec.events[0][1][0]["content"] == "abc" * 5000 and rec.events[2][1][0]["x"] == "y" * 3000
    assert rec.sizes[0] == len(f'2["one",{big}]') + 1  # sizes are of the inflated message
    assert replies[0][0] == 0x1 and replies[0][1].startswith(b'42["back"')


def test_compressed_frame_without_negotiation_is_a_protocol_error() -> None:
    def script(conn: Conn) -> None:
        conn.send(text(OPEN))
        conn.read_text()
        conn.send(text('40{"sid":"ns"}'))
        conn.send(bytes([0xC1]) + frame(0x1, _deflate('42["x",1]'))[1:])
        hold(conn)

    with RawServer(_switching(), script) as server:
        rec = Recorder()
        client = rec.make(deflate=True)  # offered, but the server did not accept it
        client.connect(server.url, timeout=10)
        assert wait_for(lambda: rec.reasons == ["protocol_error"])
        assert client.counters.protocol_errors == {"bad_ws_frame": 1}


def test_bad_deflate_data_is_a_protocol_error() -> None:
    def script(conn: Conn) -> None:
        conn.send(text(OPEN))
        conn.read_text()
        conn.send(text('40{"sid":"ns"}'))
        conn.send(bytes([0xC1]) + frame(0x1, b"\xff\xff\xff\xff")[1:])
        hold(conn)

    with RawServer(_switching("permessage-deflate"), script) as server:
        rec = Recorder()
        client = rec.make(deflate=True)
        client.connect(server.url, timeout=10)
        assert wait_for(lambda: rec.reasons == ["protocol_error"])
        assert client.counters.protocol_errors == {"bad_deflate": 1}


@pytest.mark.parametrize(
    ("respond", "deflate"),
    [
        (_switching("permessage-deflate"), False),  # accepted without an offer
        (_switching("x-webkit-deflate-frame"), True),  # an extension we never offered
        (_switching(accept=b"bm90IHRoZSByaWdodCBrZXk="), False),  # wrong accept key
        (lambda request: b"HTTP/1.1 101\r\nno colon line\r\n\r\n", False),  # no accept at all
        (lambda request: b"garbage\r\n\r\n", False),  # not HTTP
    ],
)
def test_bad_upgrade_answers_are_handshake_errors(respond: Callable[[bytes], bytes], deflate: bool) -> None:
    with RawServer(respond) as server:
        client = SocketIOClient(deflate=deflate)
        with pytest.raises(TransportError) as err:
            client.connect(server.url, timeout=5)
    assert err.value.kind == "handshake" and not client.connected


def test_refusal_keeps_status_retry_after_and_body() -> None:
    body = b'{"message":"Too many requests"}'

    def respond(request: bytes) -> bytes:
        head = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Type: application/json\r\n"
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body[:5]  # body split across writes

    class Split(RawServer):
        def _handle(self, sock: socket.socket, _addr: Any) -> None:
            request = sock.recv(4096)
            self.requests.append(request)
            sock.sendall(respond(request))
            gevent.sleep(0.05)
            sock.sendall(body[5:])
            gevent.sleep(0.2)
            sock.close()

    with Split(respond) as server, pytest.raises(HandshakeRejected) as err:
        SocketIOClient().connect(server.url, timeout=5)
    assert (err.value.status, err.value.retry_after, err.value.body) == (429, 3.0, body.decode())


@pytest.fixture
def compressing_server() -> Iterator[ReferenceServer]:
    with ReferenceServer("--event-delay-ms", "1", "--ws-compression", "--no-http-limit") as server:
        yield server


def test_deflate_interop_with_the_reference_server(compressing_server: ReferenceServer) -> None:
    req = urllib.request.Request(f"{compressing_server.url}/api/conversations", data=b"{}", method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        cid = json.loads(resp.read())["conversation_id"]
    results = {}
    for deflate in (True, False):
        rec = Recorder()
        client = rec.make(deflate=deflate)
        client.connect(compressing_server.url, query={"conversation_id": cid, "latest_event_id": -1}, timeout=20)
        assert wait_for(lambda rec=rec: len(rec.events) >= 3)  # the replay: system message and states
        transport: Any = client._transport
        inflated = transport._inflater is not None and transport._inflater._z is not None
        results[deflate] = (inflated, sum(rec.sizes), [a[0]["id"] for _, a in rec.events])
        client.disconnect()
    assert results[True][0] and not results[False][0]  # negotiated (and used) only when offered
    assert results[True][1:] == results[False][1:]  # same events, same (inflated) sizes


def test_no_socket_timeout_after_connect_and_a_silent_connection_still_times_out() -> None:
    def script(conn: Conn) -> None:
        conn.send(text('0{"sid":"f","upgrades":[],"pingInterval":100,"pingTimeout":100,"maxPayload":1000}'))
        conn.read_text()
        conn.send(text('40{"sid":"ns"}'))
        hold(conn, 3.0)  # never pings

    with RawServer(_switching(), script) as server:
        rec = Recorder()
        client = rec.make()
        client.connect(server.url, timeout=10)
        transport: Any = client._transport  # gevent would start a timer per recv
        assert transport._sock.gettimeout() is None
        assert wait_for(lambda: rec.reasons == ["ping_timeout"], timeout=5)


@pytest.mark.parametrize(
    "frame_",
    [b'42["oh_event",{"id":1}]', b'42["x"]', b'42["x",1,[2],null]', b'421["x"]', b'42/admin,["x"]', b"2", b"40"],
)
def test_root_event_fast_path_agrees_with_the_full_decoder(frame_: bytes) -> None:
    from loadtest.sio import packets as P

    fast = P.decode_root_event(frame_)
    full = P.decode_text_frame(frame_)
    if fast is None:  # anything but a plain root event goes the full way
        assert not (isinstance(full, P.SioPacket) and full.namespace == "/" and full.id is None and full.type == 2)
    else:
        assert isinstance(full, P.SioPacket) and full.data == fast


@pytest.mark.parametrize(
    ("frame_", "kind"), [(b"42[1]", "bad_payload"), (b"42[]", "bad_payload"), (b"42[x", "bad_json")]
)
def test_root_event_fast_path_errors_match(frame_: bytes, kind: str) -> None:
    from loadtest.sio import ProtocolError
    from loadtest.sio import packets as P

    for decode in (P.decode_root_event, P.decode_text_frame):
        with pytest.raises(ProtocolError) as err:
            decode(frame_)
        assert err.value.kind == kind
