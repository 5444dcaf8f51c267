"""The Socket.IO side against python-socketio's own client and raw WebSockets: refusals, replay, live events."""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests

from tests.server.peers import Peer, RawSocket, create, peer, rest_events, state_of, wait_until
from tests.support.procs import ReferenceServer

KEY = "k3y-for-tests"


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(
        "--event-delay-ms",
        "5",
        "--max-conversations",
        "0",
        "--no-http-limit",
        "--ping-interval",
        "1",
        "--ping-timeout",
        "2",
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def keyed() -> Iterator[ReferenceServer]:
    with ReferenceServer("--session-api-key", KEY, "--event-delay-ms", "2") as srv:
        yield srv


def _turn(p: Peer, content: str = "hello", count: int = 2) -> None:
    p.send(content)
    assert p.wait_state("awaiting_user_input", count=count, timeout=5), p.states()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "No conversation_id in query params"),
        ({"providers_set": "github,nope"}, "invalid providers_set value 'nope'"),
    ],
)
def test_refusals_are_connect_errors_with_openhands_messages(
    server: ReferenceServer, query: dict[str, str], message: str
) -> None:
    p = Peer(server.url)
    error = p.try_connect(None if "providers_set" not in query else "abc", **query)
    assert error is not None
    assert isinstance(p.connect_error, dict) and p.connect_error["message"].startswith(message)
    kind = "invalid_providers_set" if "providers_set" in query else "no_conversation_id"
    assert server.metrics()[f'loadtest_refusals_total{{kind="{kind}"}}'] >= 1


def test_session_key_refusal_and_acceptance(keyed: ReferenceServer) -> None:
    cid = create(keyed.url, headers={"X-Session-API-Key": KEY})
    for bad in ({}, {"session_api_key": "null"}, {"session_api_key": KEY + "x"}):
        p = Peer(keyed.url)
        assert p.try_connect(cid, **bad) is not None
        assert p.connect_error == {"message": "invalid_session_api_key"}
    with peer(keyed.url, cid, session_api_key=KEY) as p:
        assert p.ids()  # replayed the start-up events
    assert requests.post(f"{keyed.url}/api/conversations", json={}, timeout=5).status_code == 401


def test_auth_payload_is_refused_clearly_not_hung(server: ReferenceServer) -> None:
    raw = RawSocket(server.url, {"conversation_id": "c0ffee"})
    try:
        raw.ws.send('40{"token":"x"}')
        frames = raw.recv_until(lambda f: f.startswith(("40", "44")))
        assert frames[-1].startswith('44{"message":"auth payload not supported')
    finally:
        raw.close()


def test_replay_from_a_midpoint_gives_exactly_the_missing_events(server: ReferenceServer) -> None:
    cid = create(server.url)
    with peer(server.url, cid) as first:
        _turn(first, "one")
        _turn(first, "two", count=3)
    truth = rest_events(server.url, cid)
    assert [e["id"] for e in truth] == list(range(len(truth)))  # dense ids from 0, unfiltered
    mid = truth[len(truth) // 2]["id"]
    raw = RawSocket(server.url, {"conversation_id": cid, "latest_event_id": mid})
    try:
        frames = raw.connect_namespace()
    finally:
        raw.close()
    assert frames[-1].startswith('40{"sid":')
    assert all(f.startswith('42["oh_event",') for f in frames[:-1])
    replayed = [json.loads(f[2:])[1] for f in frames[:-1]]
    expected = [
        e
        for e in truth
        if e["id"] > mid and e.get("observation") not in ("null", "agent_state_changed") and e.get("action") != "recall"
    ]
    newest_state = [e for e in truth if e["id"] > mid and e.get("observation") == "agent_state_changed"][-1]
    assert replayed == [*expected, newest_state]
    assert replayed[-1]["source"] == "environment"  # stored form, no rewrite on replay
    # up to date: nothing replayed, not even a state event
    with peer(server.url, cid, latest_event_id=truth[-1]["id"]) as p:
        assert p.payloads == []
    # a non-numeric latest_event_id means "everything"
    with peer(server.url, cid, latest_event_id="undefined") as p:  # type: ignore[arg-type]
        assert p.ids()[0] == 1 and state_of(p.payloads[-1]) == "awaiting_user_input"


def test_live_turn_shapes_sources_and_echo_to_every_socket(server: ReferenceServer) -> None:
    cid = create(server.url)
    with peer(server.url, cid) as a, peer(server.url, cid) as b:
        start_a, start_b = len(a.events), len(b.events)
        _turn(a, "hi there")
        assert wait_until(lambda: b.states().count("awaiting_user_input") >= 2)
        live_a = a.payloads[start_a:]
        assert live_a == b.payloads[start_b:]  # the room gets identical live events
        assert next(e for e in live_a if "conversation_title" in e)["message"] == cid  # id-less title update
        live_a = [e for e in live_a if isinstance(e.get("id"), int)]
        echo = live_a[0]
        assert echo["source"] == "user" and echo["action"] == "message" and echo["args"]["content"] == "hi there"
        assert live_a[1]["action"] == "recall" and live_a[1]["source"] == "user"
        states = [e for e in live_a if state_of(e)]
        assert all(e["source"] == "agent" for e in states)  # live state events rewritten to agent
        assert not any(e.get("action") == "change_agent_state" for e in live_a)
        kinds = [e.get("action") or e.get("observation") for e in live_a]
        assert kinds[-2:] == ["message", "agent_state_changed"] and "run" in kinds and "edit" in kinds
        run_obs = next(e for e in live_a if e.get("observation") == "run")
        assert run_obs["cause"] + 1 == run_obs["id"] and "llm_metrics" not in run_obs
        assert "tool_call_metadata" in run_obs and len(str(run_obs)) > 1500
    assert [e["id"] for e in live_a] == sorted(e["id"] for e in live_a)


def test_second_turn_has_a_null_observation_hole_and_legacy_oh_action_works(server: ReferenceServer) -> None:
    cid = create(server.url)
    with peer(server.url, cid) as p:
        _turn(p, "first")
        mark = len(p.events)
        p.send("second", event="oh_action")
        assert p.wait_state("awaiting_user_input", count=3)
        ids = [e["id"] for e in p.payloads[mark:]]
    truth = {e["id"]: e for e in rest_events(server.url, cid)}
    holes = [i for i in range(ids[0], ids[-1]) if i not in ids]
    assert [truth[i].get("observation") for i in holes] == ["null"]


def test_event_delay_is_exact(server: ReferenceServer) -> None:
    """Visible events of a turn follow the echo on an exact 5 ms schedule (server stamps), no drift."""
    cid = create(server.url)
    with peer(server.url, cid) as p:
        mark = len(p.events)
        _turn(p, "time me")
        live = [(t, e) for t, e in p.events[mark:] if isinstance(e.get("id"), int)]
    client_gaps = [(b[0] - a[0]) * 1000 for a, b in itertools.pairwise(live[1:])]
    # medians: single events may be late when the (shared, 2-core) machine is busy; the schedule is what counts
    assert abs(statistics.median(client_gaps) - 5.0) < 2.5, client_gaps
    stamps = {e["id"]: datetime.fromisoformat(e["timestamp"]) for e in rest_events(server.url, cid)}
    times = [stamps[e["id"]] for _, e in live]
    offsets = [(t - times[0]).total_seconds() * 1000 for t in times[1:]]
    errors = [off - 5.0 * (k + 1) for k, off in enumerate(offsets)]
    assert statistics.median(abs(err) for err in errors) < 1.5, errors
    # late events do not push the schedule: a relative schedule's error would only grow along the turn
    assert min(abs(err) for err in errors[-3:]) < 2.0, errors


def test_conversation_keeps_running_after_disconnect(server: ReferenceServer) -> None:
    cid = create(server.url)
    p = Peer(server.url).connect(cid)
    p.send("keep going")
    assert wait_until(lambda: len(p.events) >= 5)
    p.close()
    assert wait_until(lambda: state_of(rest_events(server.url, cid)[-1]) == "awaiting_user_input", 5)
    last_seen = max(p.ids())
    with peer(server.url, cid, latest_event_id=last_seen) as again:
        assert again.ids() and min(again.ids()) > last_seen
        assert state_of(again.payloads[-1]) == "awaiting_user_input"


def test_unknown_conversation_is_created_and_started_live(server: ReferenceServer) -> None:
    with peer(server.url, "feedfacefeedfacefeedfacefeedface") as p:
        assert p.payloads == []  # nothing to replay
        assert p.wait_state("awaiting_user_input")
        statuses = [e for e in p.payloads if e.get("status_update")]
        assert any(e["id"] == "STATUS$READY" for e in statuses)
        assert p.states()[0] == "loading"
    info = requests.get(f"{server.url}/api/conversations/feedfacefeedfacefeedfacefeedface", timeout=5).json()
    assert info["status"] == "RUNNING" and info["conversation_version"] == "V0"


def test_polling_transport(server: ReferenceServer) -> None:
    cid = create(server.url)
    with peer(server.url, cid, transports=("polling",)) as p:
        assert p.client.transport() == "polling"
        _turn(p, "over polling")


def test_stop_action_ends_the_turn(server: ReferenceServer) -> None:
    cid = create(server.url)
    with peer(server.url, cid) as p:
        p.send("long one")
        assert wait_until(lambda: "running" in p.states())
        p.emit("oh_user_action", {"action": "change_agent_state", "args": {"agent_state": "stopped"}})
        assert p.wait_state("stopped")
        _turn(p, "after stop")


def test_polling_upgrades_to_websocket_and_counts_one_handshake(server: ReferenceServer) -> None:
    cid = create(server.url)
    with peer(server.url, cid, transports=("polling", "websocket")) as p:
        assert wait_until(lambda: p.client.transport() == "websocket")
        _turn(p, "after upgrade")
    log = requests.get(f"{server.url}/debug/handshakes", timeout=5).json()
    mine = [a for a in log["attempts"] if a["conversation_id"] == cid]
    assert [(a["transport"], a["status"]) for a in mine] == [("polling", 200)]
