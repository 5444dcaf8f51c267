"""Injected faults, each seen by an independent client and counted in /metrics."""

from __future__ import annotations

import itertools
import json

import pytest
import websocket

from tests.server.peers import RawSocket, create, peer, rest_events, state_of, wait_until
from tests.support.procs import ReferenceServer


@pytest.mark.parametrize("mode", ["clean", "abrupt"])
def test_drops_are_seen_by_the_client_and_counted(mode: str) -> None:
    options = ("--drop-every", "0.4", "--drop-share", "1", "--drop-mode", mode, "--ping-interval", "5")
    with ReferenceServer("--event-delay-ms", "2", *options) as srv:
        cid = create(srv.url)
        with peer(srv.url, cid) as p:
            assert wait_until(lambda: bool(p.disconnects), timeout=3)
            expected = "server disconnect" if mode == "clean" else "transport error"
            assert p.disconnects == [expected]
        raw = RawSocket(srv.url, {"conversation_id": cid})
        raw.connect_namespace()
        if mode == "clean":
            frames = raw.recv_until(lambda f: f.startswith("41"), timeout=3)
            assert frames[-1] == "41"  # Socket.IO DISCONNECT before the close
        else:
            with pytest.raises((ConnectionError, websocket.WebSocketConnectionClosedException)):
                raw.recv_until(lambda f: False, timeout=3)  # no close frame: the TCP connection is reset
        raw.close()
        faults = srv.metrics()
        assert faults[f'loadtest_faults_total{{kind="drop_{mode}"}}'] == 2
        other = "abrupt" if mode == "clean" else "clean"
        assert faults[f'loadtest_faults_total{{kind="drop_{other}"}}'] == 0


def test_stall_and_delay_faults_shape_the_gaps() -> None:
    options = ("--stall-after", "3", "--stall-ms", "300", "--delay-every", "5", "--delay-ms", "100")
    with ReferenceServer("--event-delay-ms", "5", *options) as srv, peer(srv.url, create(srv.url)) as p:
        mark = len(p.events)
        p.send("slow please")
        assert p.wait_state("awaiting_user_input", count=2, timeout=5)
        # the turn's visible stored events after the echo (the id-less title update is not one)
        times = [t for t, e in p.events[mark + 1 :] if isinstance(e.get("id"), int)]
        gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
        assert 300 <= gaps_ms[2] < 400, gaps_ms  # stalled before the 4th event
        assert 100 <= gaps_ms[3] < 140, gaps_ms  # 5th event delayed
        assert 100 <= gaps_ms[8] < 140, gaps_ms  # 10th event delayed
        assert all(g < 40 for i, g in enumerate(gaps_ms) if i not in (2, 3, 8)), gaps_ms
        metrics = srv.metrics()
        assert metrics['loadtest_faults_total{kind="stall"}'] == 1
        assert metrics['loadtest_faults_total{kind="delay"}'] == 2


def test_stall_without_end_holds_the_turn() -> None:
    with ReferenceServer("--event-delay-ms", "2", "--stall-after", "2") as srv, peer(srv.url, create(srv.url)) as p:
        p.send("hang")
        assert not p.wait_state("awaiting_user_input", count=2, timeout=0.6)
        assert p.states()[-1] == "running"
        assert srv.metrics()['loadtest_faults_total{kind="stall"}'] == 1


def test_faulty_replay_skips_and_repeats_non_state_events_only() -> None:
    options = ("--replay-skip-every", "3", "--replay-repeat-every", "4")
    with ReferenceServer("--event-delay-ms", "1", *options) as srv:
        cid = create(srv.url)
        with peer(srv.url, cid) as p:
            p.send("build history")
            assert p.wait_state("awaiting_user_input", count=1, timeout=5)
            assert wait_until(lambda: state_of(rest_events(srv.url, cid)[-1]) == "awaiting_user_input" and
                              len(rest_events(srv.url, cid)) > 10)  # fmt: skip
        truth = rest_events(srv.url, cid)
        assert [e["id"] for e in truth] == list(range(len(truth)))  # REST stays true and unfiltered
        raw = RawSocket(srv.url, {"conversation_id": cid, "latest_event_id": -1})
        frames = raw.connect_namespace()
        raw.close()
        got = [json.loads(f[2:])[1]["id"] for f in frames[:-1]]
        honest = [
            e["id"]
            for e in truth
            if e.get("observation") not in ("null", "agent_state_changed") and e.get("action") != "recall"
        ]
        skipped = [i for n, i in enumerate(honest, 1) if n % 3 == 0]
        repeated = [i for n, i in enumerate(honest, 1) if n % 4 == 0 and n % 3 != 0]
        expected: list[int] = []
        for i in honest:
            if i in skipped:
                continue
            expected.append(i)
            if i in repeated:
                expected.append(i)
        newest_state = [e["id"] for e in truth if e.get("observation") == "agent_state_changed"][-1]
        assert got == [*expected, newest_state]
        metrics = srv.metrics()
        # the first connect (before any history) replayed start-up events too
        assert metrics['loadtest_faults_total{kind="replay_skip"}'] >= len(skipped)
        before = metrics['loadtest_faults_total{kind="replay_skip"}'] - len(skipped)
        raw = RawSocket(srv.url, {"conversation_id": cid, "latest_event_id": -1})
        raw.connect_namespace()
        raw.close()
        again = srv.metrics()
        assert again['loadtest_faults_total{kind="replay_skip"}'] == before + 2 * len(skipped)
        assert again['loadtest_faults_total{kind="replay_repeat"}'] >= 2 * len(repeated)
