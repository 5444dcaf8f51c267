"""Our V1 test peer on another stack (tests/node/v1_server.js, Node http + ws) speaks the captured shapes, so
V1 client tests can run against it as well as against the reference server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.server.v1.support import (
    HEADERS,
    KEY,
    Socket,
    describe,
    event_of,
    handshake_status,
    is_end,
    load_vector,
    message,
    socket_url,
)
from tests.support.procs import NODE_DIR, PeerProcess

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def peer(node_ws: Path) -> Iterator[PeerProcess]:
    argv = ["node", str(NODE_DIR / "v1_server.js"), "--key", KEY, "--delay-ms", "2", "--auth-timeout-ms", "500"]
    with PeerProcess(argv, cwd=NODE_DIR) as proc:
        yield proc


def create(url: str) -> str:
    body = {"agent": {"llm": {"model": "m"}}, "workspace": {"working_dir": "/w"}}
    resp = requests.post(f"{url}/api/conversations", json=body, headers=HEADERS, timeout=5)
    assert resp.status_code == 201
    return str(resp.json()["id"])


def test_node_peer_turn_has_the_captured_sequence(peer: PeerProcess) -> None:
    _, rows = load_vector("events-basic-turn.jsonl")
    turn2 = [describe(f) for side, f in rows if side == "server"][11:]
    sock = Socket.open(peer.url, "events", create(peer.url), via="frame")
    assert sock.recv()["key"] == "full_state"
    sock.send(message("one"))
    sock.until(is_end)
    sock.send(message("two"))
    assert [describe(f) for f in sock.until(is_end)] == turn2
    sock.close()


def test_node_peer_refusals(peer: PeerProcess) -> None:
    cid = create(peer.url)
    assert handshake_status(socket_url(peer.url, "events", cid, session_api_key="wrong")) == 403
    assert handshake_status(socket_url(peer.url, "events", cid), {"X-Session-API-Key": "wrong"}) == 403
    assert handshake_status(socket_url(peer.url, "events", "not-a-uuid", session_api_key=KEY)) == 403
    silent = Socket.open(peer.url, "session", cid, via="none")
    assert silent.closed_with() == (4001, "Authentication failed")
    unknown = Socket.open(peer.url, "events", "00000000-0000-4000-8000-000000000000")
    assert unknown.closed_with() == (4004, "Conversation not found")
    socks = [Socket.open(peer.url, "events", cid) for _ in range(48)]
    for sock in socks:
        sock.recv()
    assert Socket.open(peer.url, "session", cid).closed_with() == (1013, "Too many connections for this conversation")
    for sock in socks:
        sock.close()
    assert requests.get(f"{peer.url}/api/conversations/{cid}", timeout=5).status_code == 401


def test_node_peer_resume(peer: PeerProcess) -> None:
    cid = create(peer.url)
    sock = Socket.open(peer.url, "events", cid)
    sock.recv()
    for n in range(2):
        sock.send(message(f"m{n}"))
        sock.until(is_end)
    sock.close()
    stored = requests.get(f"{peer.url}/api/conversations/{cid}/events/search", headers=HEADERS, timeout=5).json()
    items = stored["items"]
    mid = items[len(items) // 2]
    since = Socket.open(peer.url, "events", cid, resend_mode="since", after_timestamp=str(mid["timestamp"]))
    got = [since.recv() for _ in range(1 + len(items) - len(items) // 2)]
    assert got[1]["id"] == mid["id"] and [f["id"] for f in got[1:]] == [e["id"] for e in items[len(items) // 2 :]]
    session = Socket.open(peer.url, "session", cid, after_seq="2")
    frames = [session.recv() for _ in range(1 + len(items) - 3 + 1)]
    assert frames[0] == {"type": "sync", "from_seq": 2, "through_seq": len(items) - 1}
    assert [f["seq"] for f in frames[1:-1]] == list(range(3, len(items)))
    assert event_of(frames[-1])["key"] == "full_state"
    since.close()
    session.close()
