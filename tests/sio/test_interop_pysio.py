"""SocketIOClient against a plain python-socketio AsyncServer (and two tiny fakes) over loopback."""

from __future__ import annotations

# isort: split

import gevent

import time

import pytest

from loadtest.sio import (
    AckTimeout,
    ConnectRefused,
    Disconnected,
    HandshakeRejected,
    SocketIOClient,
)
from tests.sio.conftest import pysio_peer
from tests.sio.helpers import Recorder, wait_for
from tests.support.procs import PeerProcess


def test_connect_info_and_clean_disconnect(pysio_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    info = client.connect(pysio_server.url, timeout=10)
    assert client.connected and info.sid and client.sid == info.sid
    assert (info.ping_interval, info.ping_timeout) == (1.0, 2.0)
    assert info.started_at <= info.upgraded_at <= info.opened_at <= info.connected_at
    client.disconnect()
    assert not client.connected
    assert rec.reasons == ["client"] and client.disconnect_reason == "client"
    with pytest.raises(Disconnected) as err:
        client.emit("echo", 1)
    assert repr(err.value) == "Disconnected('client')"
    client.disconnect()  # twice is harmless
    assert rec.reasons == ["client"]


def test_events_before_the_connect_ack_arrive_first_and_in_order(pysio_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    info = client.connect(pysio_server.url, query={"pre": "25"}, timeout=10)
    assert [args[0]["id"] for args in rec.named("replay")] == list(range(25))
    assert rec.connected_flags == [False] * 25  # delivered before connect() returned
    assert info.events_before_ack == 25 and info.bytes_before_ack == sum(rec.sizes)
    assert all(info.upgraded_at <= t <= info.connected_at for t in rec.stamps)
    client.disconnect()


def test_auth_payload_is_sent_with_connect(pysio_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.connect(pysio_server.url, auth={"token": "t-123"}, timeout=10)
    assert rec.named("auth_seen") == [[{"token": "t-123"}]]
    client.disconnect()


def test_refusal_is_connect_refused_with_message_and_data(pysio_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    with pytest.raises(ConnectRefused) as err:
        client.connect(pysio_server.url, query={"refuse": "invalid_session_api_key"}, timeout=10)
    assert err.value.message == "invalid_session_api_key" and err.value.data == {"code": 42}
    assert repr(err.value) == "ConnectRefused('invalid_session_api_key')"
    assert not client.connected and rec.reasons == []


def test_unknown_namespace_is_refused(pysio_server: PeerProcess) -> None:
    client = SocketIOClient(namespace="/nope")
    with pytest.raises(ConnectRefused):
        client.connect(pysio_server.url, timeout=10)


def test_ack_round_trip(pysio_server: PeerProcess) -> None:
    client = SocketIOClient()
    client.connect(pysio_server.url, timeout=10)
    ack = client.call("echo", {"a": 1}, "x", timeout=5)
    assert ack.args == [{"a": 1}, "x"]
    assert 0 <= ack.rtt_ms < 5000
    client.disconnect()


def test_ack_timeout_then_the_late_ack_is_counted(pysio_server: PeerProcess) -> None:
    client = SocketIOClient()
    client.connect(pysio_server.url, timeout=10)
    with pytest.raises(AckTimeout) as err:
        client.call("slow_ack", 0.5, timeout=0.05)
    assert repr(err.value) == "AckTimeout()"
    assert client.counters.ack_timeouts == 1
    assert wait_for(lambda: client.counters.late_acks == 1)
    assert client.counters.unknown_acks == 0
    assert client.call("echo", 1, timeout=5).args == [1]  # the connection is fine
    client.disconnect()


def test_binary_both_ways(pysio_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.connect(pysio_server.url, timeout=10)
    ack = client.call("echo", b"\x00\xff", {"n": [b"a", 2]}, timeout=5)
    assert ack.args == [b"\x00\xff", {"n": [b"a", 2]}]
    client.emit("echo_event", b"xyz")
    assert wait_for(lambda: rec.named("echoed") == [[b"xyz"]])
    client.disconnect()


def test_server_ack_request_is_answered_with_the_handler_result(pysio_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.on("question", lambda event, args, at, size: args[0] * 2)
    client.connect(pysio_server.url, timeout=10)
    client.emit("ask", 21)
    assert wait_for(lambda: rec.named("answer") == [[[42]]])
    client.disconnect()


def test_pings_answered_over_more_than_two_intervals(pysio_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.connect(pysio_server.url, timeout=10)
    assert wait_for(lambda: client.counters.pings >= 3, timeout=15)
    assert client.connected and rec.reasons == []
    assert client.call("echo", "still", timeout=5).args == ["still"]
    client.disconnect()


def test_server_disconnect_reason(pysio_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.connect(pysio_server.url, timeout=10)
    client.emit("kick")
    assert wait_for(lambda: rec.reasons == ["server"])
    assert client.disconnect_reason == "server" and not client.connected


def test_pending_ack_fails_when_the_connection_closes(pysio_server: PeerProcess) -> None:
    rec = Recorder()
    client = rec.make()
    client.connect(pysio_server.url, timeout=10)
    waiting = gevent.spawn(client.call, "slow_ack", 5, timeout=30)
    gevent.sleep(0.2)
    client.abort()
    with pytest.raises(Disconnected) as err:
        waiting.get(timeout=5)
    assert err.value.reason == "client_abort"
    assert client.counters.lost_acks == 1 and rec.reasons == ["client_abort"]


def test_handler_exception_is_counted_and_not_fatal(pysio_server: PeerProcess) -> None:
    def boom(event: str, args: list[object], at: float, size: int) -> None:
        raise RuntimeError("handler bug")

    client = SocketIOClient(on_event=boom)
    client.connect(pysio_server.url, timeout=10)
    client.emit("echo_event", 1)
    assert wait_for(lambda: client.counters.handler_errors == 1)
    assert client.call("echo", 2, timeout=5).args == [2]
    client.disconnect()


def test_many_clients_interleaved(pysio_server: PeerProcess) -> None:
    clients = [SocketIOClient() for _ in range(20)]
    gevent.joinall([gevent.spawn(c.connect, pysio_server.url, timeout=20) for c in clients], raise_error=True)
    calls = [gevent.spawn(c.call, "echo", i, timeout=10) for i, c in enumerate(clients)]
    gevent.joinall(calls, raise_error=True)
    assert [g.value.args for g in calls] == [[i] for i in range(20)]
    for c in clients:
        c.disconnect()


def test_handshake_429_is_handshake_rejected_with_retry_after() -> None:
    with pysio_peer("--mode", "reject", "--status", "429", "--retry-after", "7") as peer:
        client = SocketIOClient()
        with pytest.raises(HandshakeRejected) as err:
            client.connect(peer.url, query={"session_api_key": "s3cret-key"}, timeout=10)
    assert err.value.status == 429 and err.value.retry_after == 7.0
    assert "Too many requests" in err.value.body
    assert repr(err.value) == "HandshakeRejected(status=429)" and "s3cret" not in repr(err.value)
    assert not client.connected


def test_silent_server_is_a_ping_timeout() -> None:
    with pysio_peer("--mode", "silent", "--ping-interval", "0.2", "--ping-timeout", "0.3") as peer:
        rec = Recorder()
        client = rec.make()
        info = client.connect(peer.url, timeout=10)
        assert (info.ping_interval, info.ping_timeout) == (0.2, 0.3)
        started = time.monotonic()
        assert wait_for(lambda: rec.reasons == ["ping_timeout"], timeout=15)
        assert time.monotonic() - started >= 0.3
        assert client.disconnect_reason == "ping_timeout"
