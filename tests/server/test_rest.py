"""REST endpoints around the socket, with `requests` as the client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.server.peers import create, peer, rest_events, state_of, wait_until
from tests.support.procs import ReferenceServer

KEY = "rest-k3y"


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer("--event-delay-ms", "1", "--max-conversations", "0", "--no-http-limit") as srv:
        yield srv


def test_health_routes(server: ReferenceServer) -> None:
    assert requests.get(f"{server.url}/alive", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{server.url}/health", timeout=5).json() == "OK"
    info = requests.get(f"{server.url}/server_info", timeout=5).json()
    assert info["uptime"] > 0 and "resources" in info


def test_create_get_list_delete(server: ReferenceServer) -> None:
    r = requests.post(f"{server.url}/api/conversations", json={"initial_user_msg": "start here"}, timeout=5)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ok" and body["conversation_status"] == "STARTING"
    cid = body["conversation_id"]
    assert len(cid) == 32 and int(cid, 16) >= 0
    assert wait_until(lambda: state_of(rest_events(server.url, cid)[-1]) == "awaiting_user_input" and
                      any(e.get("source") == "user" for e in rest_events(server.url, cid)))  # fmt: skip
    info = requests.get(f"{server.url}/api/conversations/{cid}", timeout=5).json()
    assert info["conversation_id"] == cid and info["status"] == "RUNNING" and info["runtime_status"] == "STATUS$READY"
    listed = requests.get(f"{server.url}/api/conversations", timeout=5).json()
    assert cid in [c["conversation_id"] for c in listed["results"]]
    assert requests.get(f"{server.url}/api/conversations/nope", timeout=5).json() is None
    extra = requests.post(f"{server.url}/api/conversations", json={"bogus": 1}, timeout=5)
    assert extra.status_code == 422
    with peer(server.url, cid) as p:
        assert requests.delete(f"{server.url}/api/conversations/{cid}", timeout=5).json() is True
        assert wait_until(lambda: bool(p.disconnects))
        idless = [e for e in p.payloads if e.get("observation") == "agent_state_changed" and "id" not in e]
        assert idless == [{"message": "", "observation": "agent_state_changed", "content": "",
                           "extras": {"agent_state": "stopped", "reason": ""}}]  # fmt: skip
    assert requests.delete(f"{server.url}/api/conversations/{cid}", timeout=5).json() is False


def test_events_paging_is_unfiltered_and_bounded(server: ReferenceServer) -> None:
    cid = create(server.url)
    with peer(server.url, cid) as p:
        for n in range(2):
            p.send(f"turn {n}")
            assert p.wait_state("awaiting_user_input", count=n + 2)
    events = rest_events(server.url, cid)
    assert [e["id"] for e in events] == list(range(len(events)))
    kinds = {e.get("action") or e.get("observation") for e in events}
    assert {"null", "recall", "change_agent_state", "agent_state_changed"} <= kinds  # nothing filtered
    assert all(e["source"] == "environment" for e in events if e.get("observation") == "agent_state_changed")
    page = requests.get(f"{server.url}/api/conversations/{cid}/events", params={"limit": "5"}, timeout=5).json()
    assert [e["id"] for e in page["events"]] == [0, 1, 2, 3, 4] and page["has_more"] is True
    rev = requests.get(
        f"{server.url}/api/conversations/{cid}/events", params={"reverse": "true", "limit": "2"}, timeout=5
    ).json()
    assert [e["id"] for e in rev["events"]] == [len(events) - 1, len(events) - 2]
    too_many = requests.get(f"{server.url}/api/conversations/{cid}/events", params={"limit": 101}, timeout=5)
    assert too_many.status_code == 400
    missing = requests.get(f"{server.url}/api/conversations/nope/events", timeout=5)
    assert missing.status_code == 404


def test_post_message_runs_a_turn_seen_on_the_socket(server: ReferenceServer) -> None:
    cid = create(server.url)
    with peer(server.url, cid) as p:
        r = requests.post(f"{server.url}/api/conversations/{cid}/message", json={"message": "via rest"}, timeout=5)
        assert r.json() == {"success": True}
        assert p.wait_state("awaiting_user_input", count=2)
        assert any(e.get("source") == "user" and e.get("message") == "via rest" for e in p.payloads)
        r = requests.post(
            f"{server.url}/api/conversations/{cid}/events", json={"action": "run", "args": {"command": "ls"}}, timeout=5
        )
        assert r.json() == {"success": True}
        assert wait_until(lambda: any(e.get("observation") == "run" and e["source"] == "user" for e in p.payloads))
        bad = requests.post(f"{server.url}/api/conversations/{cid}/events", json={"id": 3, "action": "run"}, timeout=5)
        assert bad.status_code == 400


def test_stop_and_start(server: ReferenceServer) -> None:
    cid = create(server.url)
    stop = requests.post(f"{server.url}/api/conversations/{cid}/stop", timeout=5).json()
    assert stop["message"] == "Conversation stopped successfully"
    again = requests.post(f"{server.url}/api/conversations/{cid}/stop", timeout=5).json()
    assert again["message"] == "Conversation was not running"
    assert requests.post(f"{server.url}/api/conversations/{cid}/start", timeout=5).json()["status"] == "ok"
    assert wait_until(lambda: requests.get(f"{server.url}/api/conversations/{cid}", timeout=5).json()["status"]
                      == "RUNNING")  # fmt: skip


def test_session_key_header_on_api_routes_only() -> None:
    with ReferenceServer("--session-api-key", KEY) as srv:
        assert requests.get(f"{srv.url}/api/conversations", timeout=5).status_code == 401
        bad = requests.get(f"{srv.url}/api/conversations", headers={"X-Session-API-Key": "no"}, timeout=5)
        assert bad.status_code == 401 and bad.json() == {"detail": "Invalid session API key"}
        ok = requests.get(f"{srv.url}/api/conversations", headers={"X-Session-API-Key": KEY}, timeout=5)
        assert ok.status_code == 200
        assert requests.get(f"{srv.url}/alive", timeout=5).status_code == 200
        assert requests.get(f"{srv.url}/metrics", timeout=5).status_code == 200
