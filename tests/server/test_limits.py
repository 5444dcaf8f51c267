"""Limits: OpenHands' REST limiter, the handshake limiter, the action-rate limit and conversation eviction."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
import websocket

from tests.server.peers import Peer, create, peer, rest_events, wait_until
from tests.support.procs import ReferenceServer


@pytest.fixture(scope="module")
def limited() -> Iterator[ReferenceServer]:
    """OpenHands defaults for the REST limiter, a handshake limit of 2/s per IP."""
    with ReferenceServer("--event-delay-ms", "2", "--handshake-rate", "2", "--max-conversations", "0") as srv:
        yield srv


def test_http_limiter_delays_then_refuses_with_retry_after(limited: ReferenceServer) -> None:
    time.sleep(1.1)  # a fresh window for this IP

    def call() -> tuple[int, float, str | None, str]:
        started = time.monotonic()
        r = requests.get(f"{limited.url}/alive", timeout=10)
        return r.status_code, time.monotonic() - started, r.headers.get("Retry-After"), r.text

    results: list[tuple[int, float, str | None, str]] = []
    jobs = [threading.Thread(target=lambda: results.append(call())) for _ in range(25)]  # greenlets here
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(15)
    assert len(results) == 25
    refused = [r for r in results if r[0] == 429]
    assert len(refused) == 5
    assert all(r[2] == "1" and r[3] == '{"message":"Too many requests"}' for r in refused)
    ok = [r for r in results if r[0] == 200]
    assert sum(1 for r in ok if r[1] >= 0.95) == 10  # the 11th..20th slept 1 s
    metrics = limited.metrics()
    assert metrics['loadtest_throttles_total{kind="http_429"}'] == 5
    assert metrics['loadtest_throttles_total{kind="http_delayed"}'] == 10


def _ws_url(server: ReferenceServer, cid: str) -> str:
    return f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket&conversation_id={cid}"


def test_handshake_limit_answers_the_upgrade_with_429_and_is_logged(limited: ReferenceServer) -> None:
    cid = create(limited.url)
    time.sleep(1.1)
    opened = [websocket.create_connection(_ws_url(limited, cid), timeout=5) for _ in range(2)]
    try:
        assert all(str(ws.recv()).startswith("0{") for ws in opened)
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            websocket.create_connection(_ws_url(limited, cid), timeout=5)
        assert info.value.status_code == 429
        assert info.value.resp_headers is not None and info.value.resp_headers["retry-after"] == "1"
        # the polling handshake is gated the same way, before any Engine.IO byte
        r = requests.get(f"{limited.url}/socket.io/?EIO=4&transport=polling&conversation_id={cid}", timeout=5)
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        # python-socketio's client sees a failed connection too
        assert Peer(limited.url).try_connect(cid) is not None
    finally:
        for ws in opened:
            ws.close()
    time.sleep(1.05)  # honour Retry-After: admitted again
    with peer(limited.url, cid) as p:
        assert p.client.connected
    log = requests.get(f"{limited.url}/debug/handshakes", timeout=5).json()
    mine = [a for a in log["attempts"] if a["conversation_id"] == cid]
    assert [a["status"] for a in mine] == [101, 101, 429, 429, 429, 101]
    assert all(a["retry_after"] == 1 for a in mine if a["status"] == 429)
    assert mine[-1]["t"] - mine[-2]["t"] >= 1.0 and log["now"] >= mine[-1]["t"]
    assert mine[0]["t"] in log["clients"]["127.0.0.1"]
    assert limited.metrics()['loadtest_throttles_total{kind="handshake_429"}'] == 3


@pytest.mark.parametrize("mode", ["state", "error"])
def test_action_rate_limit(mode: str) -> None:
    with (
        ReferenceServer("--event-delay-ms", "1", "--action-rate", "2", "--action-limit-mode", mode) as srv,
        peer(srv.url, create(srv.url)) as p,
    ):
        for i in range(4):
            p.send(f"burst {i}")
        if mode == "state":
            assert p.wait_state("rate_limited", count=2)
        else:
            assert wait_until(lambda: sum(e.get("observation") == "error" for e in p.payloads) == 2)
            err = next(e for e in p.payloads if e.get("observation") == "error")
            assert err["source"] == "agent" and err["extras"]["error_id"] == "AGENT_ERROR$ACTION_RATE_LIMITED"
        assert p.wait_state("awaiting_user_input", count=3)  # start-up + the two accepted turns
        echoes = [e for e in p.payloads if e.get("source") == "user" and e.get("action") == "message"]
        assert [e["args"]["content"] for e in echoes] == ["burst 0", "burst 1"]
        assert srv.metrics()['loadtest_throttles_total{kind="action_rate"}'] == 2


def test_too_many_conversations_evicts_the_least_recently_updated() -> None:
    with ReferenceServer("--event-delay-ms", "1", "--max-conversations", "2") as srv:
        first, second = create(srv.url), create(srv.url)
        with peer(srv.url, first) as old, peer(srv.url, second):
            time.sleep(0.05)
            third = create(srv.url)  # a third loop starts: the oldest is evicted
            assert wait_until(lambda: bool(old.disconnects))
            status = [e for e in old.payloads if e.get("status_update")]
            assert status[-1]["id"] == "AGENT_ERROR$TOO_MANY_CONVERSATIONS" and status[-1]["type"] == "error"
            assert status[-1]["message"].startswith("Too many conversations at once.")
        info = requests.get(f"{srv.url}/api/conversations/{first}", timeout=5).json()
        assert info["status"] == "STOPPED"
        assert rest_events(srv.url, first)[-1]["extras"]["agent_state"] == "stopped"
        assert requests.get(f"{srv.url}/api/conversations/{third}", timeout=5).json()["status"] == "RUNNING"
        metrics = srv.metrics()
        assert metrics['loadtest_throttles_total{kind="too_many_conversations"}'] == 1
        assert metrics["loadtest_conversations_running"] == 2
        # reconnecting restarts the evicted loop (and evicts another), as OpenHands does
        with peer(srv.url, first) as back:
            assert back.wait_state("awaiting_user_input")
            assert back.states()[:2] == ["stopped", "loading"]
        assert srv.metrics()['loadtest_throttles_total{kind="too_many_conversations"}'] == 2
