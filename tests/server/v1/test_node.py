"""Node's `ws` package (another stack's WebSocket client) against the reference server's V1 sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.server.peers import run_node
from tests.server.v1.support import HEADERS, KEY, create, describe, load_vector, serve
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def srv() -> Iterator[ReferenceServer]:
    with serve("--event-delay-ms", "2", "--script", "finish") as server:
        yield server


def ws_base(url: str) -> str:
    return url.replace("http://", "ws://")


def frames(lines: list[dict[str, object]]) -> list[dict[str, object]]:
    return [line["data"] for line in lines if line["kind"] == "frame"]  # type: ignore[misc]


def test_node_turn_matches_the_captured_turn(srv: ReferenceServer, node_ws: Path) -> None:
    cid = create(srv.url)
    code, lines = run_node("v1_client.js", "turn", ws_base(srv.url), cid, KEY, "hello from node")
    assert code == 0, lines
    _, rows = load_vector("events-basic-turn.jsonl")
    captured = [describe(f) for side, f in rows if side == "server"][:11]  # the snapshot and turn 1
    assert [describe(f) for f in frames(lines)] == captured


def test_node_session_replay(srv: ReferenceServer, node_ws: Path) -> None:
    cid = create(srv.url)
    code, _ = run_node("v1_client.js", "turn", ws_base(srv.url), cid, KEY, "fill")
    assert code == 0
    count = requests.get(f"{srv.url}/api/conversations/{cid}/events/count", headers=HEADERS, timeout=5).json()
    code, lines = run_node("v1_client.js", "session", ws_base(srv.url), cid, KEY, "3")
    assert code == 0, lines
    got = frames(lines)
    assert got[0] == {"type": "sync", "from_seq": 3, "through_seq": count - 1}
    assert [f["seq"] for f in got[1:-1]] == list(range(4, count))
    assert got[-1]["type"] == "transient"


def test_node_sees_the_refusals(srv: ReferenceServer, node_ws: Path) -> None:
    cid = create(srv.url)
    code, lines = run_node("v1_client.js", "refuse", ws_base(srv.url), cid, KEY, "wrong")
    assert code == 0 and {"kind": "http", "status": 403} in [{k: v for k, v in x.items() if k != "t"} for x in lines]
    code, lines = run_node("v1_client.js", "firstframe", ws_base(srv.url), cid, KEY, "wrong")
    closes = [x for x in lines if x["kind"] == "close"]
    assert code == 0 and closes and (closes[0]["code"], closes[0]["reason"]) == (4001, "Authentication failed")
    unknown = "00000000-0000-4000-8000-000000000000"
    code, lines = run_node("v1_client.js", "firstframe", ws_base(srv.url), unknown, KEY, KEY)
    closes = [x for x in lines if x["kind"] == "close"]
    assert code == 0 and (closes[0]["code"], closes[0]["reason"]) == (4004, "Conversation not found")
