"""Limits: OpenHands' REST limiter, the handshake limiter, the action-rate limit and conversation eviction."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websocket

from tests.server.peers import Peer, create, peer, rest_events, wait_until
from tests.support.procs import ReferenceServer

HANDSHAKE_RATE = 2  # the `limited` server's --handshake-rate
TRIES = 8  # attempts of one handshake kind before it must have met a refusal


@pytest.fixture(scope="module")
def limited() -> Iterator[ReferenceServer]:
    """OpenHands defaults for the REST limiter, a handshake limit of 2/s per IP."""
    with ReferenceServer(
        "--event-delay-ms", "2", "--handshake-rate", str(HANDSHAKE_RATE), "--max-conversations", "0"
    ) as srv:
        yield srv


def test_http_limiter_delays_then_refuses_with_retry_after(limited: ReferenceServer) -> None:
    """25 requests from one IP in one burst: 10 pass, the next 10 sleep 1 s, the last 5 get 429.

    The limiter's window slides over the second after the first request, so the counts hold when the whole
    burst lands inside it. By construction it does: each request rides a connection opened beforehand (on an
    exempt route the limiter does not count), and all are released at once, so the burst is 25 writes on
    open sockets (milliseconds), not 25 connects; its spread is measured against the window all the same.
    """
    sessions = [requests.Session() for _ in range(25)]
    for session in sessions:  # open each keep-alive connection; /debug/ is not rate-limited
        session.get(f"{limited.url}/debug/handshakes", timeout=10).raise_for_status()
    time.sleep(1.1)  # a fresh window for this IP
    go = threading.Event()

    def call(session: requests.Session) -> tuple[int, float, str | None, str, float]:
        go.wait(10)
        started = time.monotonic()
        r = session.get(f"{limited.url}/alive", timeout=10)
        return r.status_code, time.monotonic() - started, r.headers.get("Retry-After"), r.text, started

    results: list[tuple[int, float, str | None, str, float]] = []
    jobs = [threading.Thread(target=lambda s=s: results.append(call(s))) for s in sessions]  # greenlets here
    for job in jobs:
        job.start()
    time.sleep(0.05)  # every job is waiting on `go`
    go.set()
    for job in jobs:
        job.join(15)
    for session in sessions:
        session.close()
    assert len(results) == 25
    spread = max(r[4] for r in results) - min(r[4] for r in results)
    assert spread < 0.5, f"the burst took {spread:.2f} s to send: it no longer fits the limiter's 1 s window"
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


def admitted_by_rule(attempts: list[dict[str, Any]], rate: int = HANDSHAKE_RATE, window: float = 1.0) -> list[bool]:
    """Which attempts (in log order, one IP) a sliding window of `rate` admissions per `window` seconds admits."""
    admitted: list[float] = []
    verdicts = []
    for attempt in attempts:
        t = float(attempt["t"])
        ok = sum(1 for a in admitted if a > t - window) < rate
        if ok:
            admitted.append(t)
        verdicts.append(ok)
    return verdicts


def test_admitted_by_rule() -> None:
    times = [{"t": t} for t in (10.0, 10.2, 10.4, 11.0, 11.1, 11.25, 12.5)]
    assert admitted_by_rule(times) == [True, True, False, True, False, True, True]


def test_handshake_limit_answers_the_upgrade_with_429_and_is_logged(limited: ReferenceServer) -> None:
    """Each kind of handshake (WebSocket upgrade, polling, python-socketio's client) is refused with 429.

    Which attempts are refused depends on when they land in the limiter's sliding 1 s window, so the test does
    not presume the timing: each kind retries until refused (at most `TRIES` times; 2 admissions per second
    make the third back-to-back attempt a refusal unless the host stalls), what every client saw must be what
    the server logged, and the log must follow the limiter's rule attempt by attempt, on the server's clock.
    """
    cid = create(limited.url)
    time.sleep(1.1)  # a fresh window for this IP
    seen: list[int] = []
    opened: list[websocket.WebSocket] = []
    try:
        refusal: websocket.WebSocketBadStatusException | None = None
        for _ in range(TRIES):
            try:
                opened.append(websocket.create_connection(_ws_url(limited, cid), timeout=5))
                seen.append(101)
            except websocket.WebSocketBadStatusException as exc:
                refusal = exc
                seen.append(exc.status_code)
                break
        assert refusal is not None and refusal.status_code == 429
        assert refusal.resp_headers is not None and refusal.resp_headers["retry-after"] == "1"
        assert all(str(ws.recv()).startswith("0{") for ws in opened)
        # the polling handshake is gated the same way, before any Engine.IO byte
        for _ in range(TRIES):
            r = requests.get(f"{limited.url}/socket.io/?EIO=4&transport=polling&conversation_id={cid}", timeout=5)
            seen.append(200 if r.status_code == 200 else r.status_code)
            if r.status_code != 200:
                break
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        # python-socketio's client sees a failed connection too
        for _ in range(TRIES):
            client = Peer(limited.url)
            failed = client.try_connect(cid)
            if failed is not None:
                seen.append(429)
                break
            client.client.disconnect()
            seen.append(101)
        assert failed is not None
    finally:
        for ws in opened:
            ws.close()
    time.sleep(1.05)  # honour Retry-After: admitted again
    with peer(limited.url, cid) as p:
        assert p.client.connected
        seen.append(101)
    log = requests.get(f"{limited.url}/debug/handshakes", timeout=5).json()
    mine = [a for a in log["attempts"] if a["conversation_id"] == cid]
    assert [a["status"] for a in mine] == seen
    from_ip = [a for a in log["attempts"] if a["ip"] == "127.0.0.1"]
    assert [a["status"] != 429 for a in from_ip] == admitted_by_rule(from_ip)
    assert all(a["retry_after"] == 1 for a in mine if a["status"] == 429)
    assert mine[-1]["t"] - mine[-2]["t"] >= 1.0 and log["now"] >= mine[-1]["t"]
    assert mine[0]["t"] in log["clients"]["127.0.0.1"]
    assert seen.count(429) == 3 == limited.metrics()['loadtest_throttles_total{kind="handshake_429"}']


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
