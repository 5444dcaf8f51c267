"""The Socket.IO client on our WebSocket layer: frames, handshake, closes, against a scripted raw server."""

from __future__ import annotations

# isort: split

import gevent

import socket

import pytest

from loadtest.sio import ConnectTimeout, Disconnected, SocketIOClient, TransportError
from loadtest.sio.transport import build_url
from tests.sio.fake_ws import OPEN, Conn, FakeServer, frame, handshake, hold, text
from tests.sio.helpers import Recorder, wait_for


def test_build_url() -> None:
    url, host, port, tls = build_url("https://example.test/prefix", {"a": "1", "p": ["x", "y"]}, "/socket.io/")
    assert url == "wss://example.test:443/socket.io/?EIO=4&transport=websocket&a=1&p=x&p=y"
    assert (host, port, tls) == ("example.test", 443, True)
    assert build_url("ws://[::1]:81", None, "custom/path")[0] == "ws://[::1]:81/custom/path/?EIO=4&transport=websocket"
    with pytest.raises(ValueError):
        build_url("ftp://x", None, "socket.io")


def test_query_headers_cookies_and_masked_client_frames() -> None:
    seen: list[tuple[int, bytes, bool]] = []

    def script(conn: Conn) -> None:
        conn.send(text(OPEN))
        seen.append(conn.read_frame())
        conn.send(text('40{"sid":"ns"}'))
        seen.append(conn.read_frame())
        hold(conn)

    with FakeServer(script) as server:
        client = SocketIOClient()
        client.connect(
            server.url,
            query={"conversation_id": "abc", "latest_event_id": -1},
            headers={"X-Session-API-Key": "k"},
            cookies={"a": "1", "b": "2"},
            timeout=10,
        )
        client.emit("oh_user_action", {"action": "message", "args": {"content": "x" * 300}})
        assert wait_for(lambda: len(seen) == 2)
        client.disconnect()
    request = server.requests[0].decode()
    assert request.startswith("GET /socket.io/?EIO=4&transport=websocket&conversation_id=abc&latest_event_id=-1 ")
    assert "X-Session-API-Key: k\r\n" in request and "Cookie: a=1; b=2\r\n" in request
    assert seen[0] == (0x1, b"40", True)
    _opcode, payload, masked = seen[1]
    assert masked and payload.startswith(b'42["oh_user_action",') and len(payload) > 300


def test_fragments_control_frames_split_reads_and_long_lengths() -> None:
    pongs: list[bytes] = []
    medium = "x" * 1000  # 16-bit length
    large = "y" * 70_000  # 64-bit length

    def script(conn: Conn) -> None:
        handshake(conn)
        data = (
            frame(0x1, '42["part', fin=False)
            + frame(0x9, b"hb")  # a ping between fragments
            + frame(0x0, 'ed",1', fin=False)
            + frame(0x0, "]")
            + text(f'42["medium","{medium}"]')
            + text(f'42["large","{large}"]')
        )
        for i in range(0, len(data), 997):  # many small writes: frames split across reads
            conn.send(data[i : i + 997])
        opcode, payload, _ = conn.read_frame()
        if opcode == 0xA:
            pongs.append(payload)
        hold(conn)

    with FakeServer(script) as server:
        rec = Recorder()
        client = rec.make()
        client.connect(server.url, timeout=10)
        assert wait_for(lambda: len(rec.events) == 3)
        assert rec.events[0] == ("parted", [1])
        assert rec.events[1] == ("medium", [medium]) and rec.events[2] == ("large", [large])
        assert wait_for(lambda: pongs == [b"hb"])
        client.disconnect()
    assert not server.errors


def test_open_in_the_same_segment_as_the_101() -> None:
    with FakeServer(
        lambda conn: (conn.read_text(), conn.send(text('40{"sid":"s"}')), hold(conn)), with_101=text(OPEN)
    ) as server:
        client = SocketIOClient()
        assert client.connect(server.url, timeout=10).sid == "s"
        client.disconnect()


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (frame(0x1, "42[1]", masked=True), "bad_ws_frame"),
        (text("x"), "bad_eio_type"),
        (text('42["x"'), "bad_json"),
        (frame(0x2, b"\x00"), "unexpected_binary"),
        (frame(0x3, b""), "bad_ws_opcode"),
        (text('42["big","' + "z" * 5000 + '"]'), "frame_too_large"),
    ],
)
def test_protocol_errors_close_with_a_reason_and_a_count(bad: bytes, kind: str) -> None:
    def script(conn: Conn) -> None:
        handshake(conn)
        conn.send(bad)
        hold(conn)

    with FakeServer(script) as server:
        rec = Recorder()
        client = rec.make(max_frame_bytes=4096)
        client.connect(server.url, timeout=10)
        assert wait_for(lambda: rec.reasons == ["protocol_error"])
        assert client.counters.protocol_errors == {kind: 1}


def test_close_frame_and_engineio_close() -> None:
    replies: list[int] = []

    def ws_close(conn: Conn) -> None:
        handshake(conn)
        conn.send(frame(0x8, (1001).to_bytes(2, "big")))
        replies.append(conn.read_frame()[0])

    def eio_close(conn: Conn) -> None:
        handshake(conn)
        conn.send(text("1"))
        hold(conn)

    for script, reason in ((ws_close, "transport_close"), (eio_close, "server")):
        with FakeServer(script) as server:
            rec = Recorder()
            rec.make().connect(server.url, timeout=10)
            assert wait_for(lambda rec=rec, reason=reason: rec.reasons == [reason])
    assert replies == [0x8]


@pytest.mark.slow
def test_connect_timeouts_name_the_stage() -> None:
    stages = {}
    for name, server in (
        ("transport", FakeServer(hold, upgrade=False)),
        ("open", FakeServer(hold)),
        ("namespace", FakeServer(lambda conn: (conn.send(text(OPEN)), hold(conn)))),
    ):
        with server:
            client = SocketIOClient()
            with pytest.raises(ConnectTimeout) as err:
                client.connect(server.url, timeout=1.5)
            stages[name] = err.value.stage
            assert not client.connected and repr(err.value) == f"ConnectTimeout({name!r})"
    assert stages == {"transport": "transport", "open": "open", "namespace": "namespace"}


def test_refused_port_is_a_transport_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(TransportError) as err:
        SocketIOClient().connect(f"http://127.0.0.1:{port}", timeout=5)
    assert err.value.kind == "econnrefused" and repr(err.value) == "TransportError('econnrefused')"


def test_abort_during_the_upgrade_leaves_nothing_open() -> None:
    def slow_upgrade(conn: Conn) -> None:
        handshake(conn)
        hold(conn)

    with FakeServer(slow_upgrade) as server:
        client = SocketIOClient()
        gevent.spawn_later(0, client.abort)  # runs while connect() waits for the 101
        with pytest.raises(Disconnected) as err:
            client.connect(server.url, timeout=5)
        assert err.value.reason == "client_abort" and not client.connected


def test_writes_larger_than_the_socket_buffer_stay_whole_and_in_order() -> None:
    """A frame the kernel takes only in part is finished before any other greenlet's frame starts."""
    got: list[bytes] = []

    def script(conn: Conn) -> None:
        handshake(conn)
        gevent.sleep(0.3)  # let the client's send buffer fill before reading anything
        for _ in range(1 + 20):
            got.append(conn.read_frame()[1])
        hold(conn)

    big = "y" * (4 << 20)
    with FakeServer(script) as server:
        client = SocketIOClient()
        client.connect(server.url, timeout=10)
        writer = gevent.spawn(client.emit, "big", big)
        gevent.sleep(0)  # the big write is under way (blocked on a full buffer) when the small ones come
        smalls = [gevent.spawn(client.emit, "small", i) for i in range(20)]
        gevent.joinall([writer, *smalls], timeout=30, raise_error=True)
        assert wait_for(lambda: len(got) == 21, timeout=30)
        client.disconnect()
    assert got[0] == b'42["big","' + big.encode() + b'"]'
    assert sorted(got[1:]) == sorted(f'42["small",{i}]'.encode() for i in range(20))
