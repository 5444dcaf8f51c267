"""SocketIOClient against Node's socket.io 4.x server (tests/node/sio_server.js) over loopback."""

from __future__ import annotations

# isort: split

import gevent

import pytest

from loadtest.sio import AckTimeout, ConnectRefused, SocketIOClient
from tests.sio.helpers import Recorder, wait_for
from tests.support.procs import PeerProcess

pytestmark = pytest.mark.node


def test_connect_and_info(node_server: PeerProcess) -> None:
    client = SocketIOClient()
    info = client.connect(node_server.url, timeout=10)
    assert client.connected and info.sid
    assert (info.ping_interval, info.ping_timeout) == (0.3, 3.0)
    client.disconnect()
    assert client.disconnect_reason == "client"


def test_refusal_carries_message_and_data(node_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    with pytest.raises(ConnectRefused) as err:
        client.connect(node_server.url, query={"refuse": "Failed to join conversation"}, timeout=10)
    assert err.value.message == "Failed to join conversation" and err.value.data == {"code": 42}
    assert rec.reasons == []


def test_auth_payload(node_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.connect(node_server.url, auth={"token": "abc"}, timeout=10)
    assert wait_for(lambda: rec.named("auth_seen") == [[{"token": "abc"}]])
    client.disconnect()


def test_ack_and_binary_both_ways(node_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.connect(node_server.url, timeout=10)
    assert client.call("echo", {"a": [1, 2]}, "é", timeout=5).args == [{"a": [1, 2]}, "é"]
    assert client.call("echo", b"\x00\x01", {"x": b"\xff"}, timeout=5).args == [b"\x00\x01", {"x": b"\xff"}]
    client.emit("echo_event", "t", b"bin")
    assert wait_for(lambda: rec.named("echoed") == [["t", b"bin"]])
    client.disconnect()


def test_late_and_unknown_acks_are_counted(node_server: PeerProcess) -> None:
    client = SocketIOClient()
    client.connect(node_server.url, timeout=10)
    with pytest.raises(AckTimeout):
        client.call("slow_ack", 300, timeout=0.05)
    assert wait_for(lambda: client.counters.late_acks == 1)
    client.emit("bogus_ack")
    assert wait_for(lambda: client.counters.unknown_acks == 1)
    assert client.connected
    client.disconnect()


def test_server_ack_request(node_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.on("question", lambda event, args, at, size: (args[0], "ok"))
    client.connect(node_server.url, timeout=10)
    client.emit("ask", 7)
    assert wait_for(lambda: rec.named("answer") == [[7, "ok"]])
    client.disconnect()


def test_pings_over_more_than_two_intervals(node_server: PeerProcess) -> None:
    client = SocketIOClient()
    client.connect(node_server.url, timeout=10)
    assert wait_for(lambda: client.counters.pings >= 3, timeout=15)
    assert client.connected
    client.disconnect()


def test_stalled_server_is_a_ping_timeout(node_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.connect(node_server.url, timeout=10)
    client.emit("stall")
    assert wait_for(lambda: rec.reasons == ["ping_timeout"], timeout=20)


def test_server_disconnect_and_transport_close(node_server: PeerProcess) -> None:
    kicked, dropped = Recorder(), Recorder()
    a, b = kicked.make(), dropped.make()
    a.connect(node_server.url, timeout=10)
    b.connect(node_server.url, timeout=10)
    a.emit("kick")
    b.emit("drop")
    assert wait_for(lambda: kicked.reasons == ["server"] and dropped.reasons == ["transport_close"])


def test_stream_of_events_in_order_and_large_frames(node_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.connect(node_server.url, timeout=10)
    assert client.call("stream", 2000, 200, timeout=30).args == [2000]
    assert [args[0]["id"] for args in rec.named("tick")] == list(range(2000))
    assert client.call("stream", 3, 300_000, timeout=30).args == [3]  # 64-bit length frames over many reads
    big = rec.named("tick")[-3:]
    assert [len(args[0]["message"]) for args in big] == [300_000 - 60] * 3
    assert rec.stamps == sorted(rec.stamps)
    client.disconnect()


def test_two_hundred_concurrent_clients(node_server: PeerProcess) -> None:
    clients = [SocketIOClient() for _ in range(200)]
    gevent.joinall([gevent.spawn(c.connect, node_server.url, timeout=30) for c in clients], raise_error=True)
    calls = [gevent.spawn(c.call, "echo", i, timeout=30) for i, c in enumerate(clients)]
    gevent.joinall(calls, raise_error=True)
    assert [g.value.args for g in calls] == [[i] for i in range(200)]
    for c in clients:
        c.disconnect()
