"""Node's socket.io-client (what the OpenHands frontend uses) against the reference server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.peers import create, rest_events, run_node, state_of
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer("--event-delay-ms", "5", "--max-conversations", "0") as srv:
        yield srv


def _events(lines: list[dict[str, object]]) -> list[dict[str, object]]:
    return [line["data"] for line in lines if line["kind"] == "event"]  # type: ignore[misc]


def test_node_connect_echo_and_turn(server: ReferenceServer, node_modules: Path) -> None:
    cid = create(server.url)
    code, lines = run_node("oh_client.js", server.url, cid, "-1", "hello from node")
    assert code == 0, lines
    kinds = [line["kind"] for line in lines]
    connect_at = kinds.index("connect")
    replayed = _events(lines[:connect_at])  # socket.io-client delivers buffered replay before "connect"
    assert [e["id"] for e in replayed][-1] == 3 and state_of(replayed[-1]) == "awaiting_user_input"
    live = _events(lines[connect_at:])
    assert live[0]["source"] == "user" and live[0]["args"]["content"] == "hello from node"  # type: ignore[index]
    assert state_of(live[-1]) == "awaiting_user_input" and live[-1]["source"] == "agent"
    assert "done" in kinds and "connect_error" not in kinds


def test_node_replay_from_midpoint(server: ReferenceServer, node_modules: Path) -> None:
    cid = create(server.url)
    code, _ = run_node("oh_client.js", server.url, cid, "-1", "fill history")
    assert code == 0
    truth = rest_events(server.url, cid)
    mid = truth[len(truth) // 2]["id"]
    code, lines = run_node("oh_client.js", server.url, cid, str(mid))
    assert code == 0
    replayed = _events(lines[: [line["kind"] for line in lines].index("connect")])
    expected = [
        e["id"]
        for e in truth
        if e["id"] > mid and e.get("observation") not in ("null", "agent_state_changed") and e.get("action") != "recall"
    ]
    newest_state = [e["id"] for e in truth if e.get("observation") == "agent_state_changed"][-1]
    assert [e["id"] for e in replayed] == [*expected, newest_state]


def test_node_sees_refusals(server: ReferenceServer, node_modules: Path) -> None:
    code, lines = run_node("oh_client.js", server.url, "", "-1")
    assert code == 1
    assert lines[-1]["kind"] == "connect_error" and lines[-1]["message"] == "No conversation_id in query params"
