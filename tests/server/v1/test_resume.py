"""V1 resume over loopback: `resend_mode=since` from every stored timestamp (inclusive), `resend_mode=all`, and
the session socket's `after_seq` from every position; REST event search and count agree with the sockets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from tests.server.v1.support import HEADERS, Frame, Socket, create, is_end, message, serve
from tests.support.procs import ReferenceServer


@pytest.fixture(scope="module")
def srv() -> Iterator[ReferenceServer]:
    with serve("--event-delay-ms", "1", "--script", "run,finish") as server:
        yield server


@pytest.fixture(scope="module")
def conversation(srv: ReferenceServer) -> tuple[str, list[Frame]]:
    """A conversation of three finished turns, and its stored events as REST lists them."""
    cid = create(srv.url)
    sock = Socket.open(srv.url, "events", cid)
    sock.recv()
    for n in range(3):
        sock.send(message(f"turn {n}"))
        sock.until(is_end)
    sock.close()
    stored: list[Frame] = []
    page_id = None
    while True:
        params: dict[str, str | int] = {"limit": 7}
        if page_id:
            params["page_id"] = page_id
        body = requests.get(
            f"{srv.url}/api/conversations/{cid}/events/search", params=params, headers=HEADERS, timeout=5
        ).json()
        stored.extend(body["items"])
        page_id = body["next_page_id"]
        if not page_id:
            break
    return cid, stored


def replay(srv: ReferenceServer, kind: str, cid: str, expect: int, **query: str) -> list[Frame]:
    sock = Socket.open(srv.url, kind, cid, **query)
    got = [sock.recv() for _ in range(expect)]
    assert sock.quiet(0.05) == []
    sock.close()
    return got


def test_rest_agrees_with_the_log(srv: ReferenceServer, conversation: tuple[str, list[Frame]]) -> None:
    cid, stored = conversation
    base = f"{srv.url}/api/conversations/{cid}/events"
    assert requests.get(f"{base}/count", headers=HEADERS, timeout=5).json() == len(stored)
    ids = [e["id"] for e in stored]
    assert len(set(ids)) == len(ids)
    desc = requests.get(f"{base}/search", params={"sort_order": "TIMESTAMP_DESC"}, headers=HEADERS, timeout=5).json()
    assert [e["id"] for e in desc["items"]] == ids[::-1]
    kinds = requests.get(f"{base}/search", params={"kind": "ActionEvent"}, headers=HEADERS, timeout=5).json()
    assert [e["id"] for e in kinds["items"]] == [e["id"] for e in stored if e["kind"] == "ActionEvent"]
    mid = stored[len(stored) // 2]["timestamp"]
    window = {"timestamp__gte": mid, "timestamp__lt": stored[-1]["timestamp"]}
    part = requests.get(f"{base}/search", params=window, headers=HEADERS, timeout=5).json()["items"]
    assert [e["id"] for e in part] == [e["id"] for e in stored if mid <= e["timestamp"] < stored[-1]["timestamp"]]
    too_many = requests.get(f"{base}/search", params={"limit": 101}, headers=HEADERS, timeout=5)
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["type"] == "less_than_equal"


def test_resend_all_replays_every_stored_event_after_the_snapshot(
    srv: ReferenceServer, conversation: tuple[str, list[Frame]]
) -> None:
    cid, stored = conversation
    got = replay(srv, "events", cid, len(stored) + 1, resend_mode="all")
    assert got[0]["key"] == "full_state"
    assert got[1:] == stored
    legacy = replay(srv, "events", cid, len(stored) + 1, resend_all="true")
    assert [e["id"] for e in legacy[1:]] == [e["id"] for e in stored]


def test_since_is_inclusive_from_every_mid_point(srv: ReferenceServer, conversation: tuple[str, list[Frame]]) -> None:
    cid, stored = conversation
    for i, event in enumerate(stored):
        stamp = str(event["timestamp"])
        want = [e["id"] for e in stored if e["timestamp"] >= stamp]
        assert want[0] == stored[i]["id"] or stored[i - 1]["timestamp"] == stamp
        got = replay(srv, "events", cid, len(want) + 1, resend_mode="since", after_timestamp=stamp)
        assert got[0]["key"] == "full_state"
        assert [e["id"] for e in got[1:]] == want, i


def test_since_with_a_zone_is_converted_and_without_a_timestamp_replays_nothing(
    srv: ReferenceServer, conversation: tuple[str, list[Frame]]
) -> None:
    cid, stored = conversation
    stamp = str(stored[5]["timestamp"])
    local = datetime.fromisoformat(stamp).astimezone()  # the server's local zone is this machine's
    zoned = local.astimezone(UTC).isoformat()
    want = [e["id"] for e in stored if e["timestamp"] >= stamp]
    got = replay(srv, "events", cid, len(want) + 1, resend_mode="since", after_timestamp=zoned)
    assert [e["id"] for e in got[1:]] == want
    assert len(replay(srv, "events", cid, 1, resend_mode="since")) == 1


def test_session_replay_from_every_after_seq(srv: ReferenceServer, conversation: tuple[str, list[Frame]]) -> None:
    cid, stored = conversation
    last = len(stored) - 1
    for after in range(-1, last + 1):
        got = replay(srv, "session", cid, 1 + (last - after) + 1, after_seq=str(after))
        assert got[0] == {"type": "sync", "from_seq": after, "through_seq": last}
        durables = got[1:-1]
        assert [d["seq"] for d in durables] == list(range(after + 1, last + 1))
        assert [d["event"] for d in durables] == stored[after + 1 :]
        assert got[-1]["type"] == "transient" and got[-1]["event"]["key"] == "full_state"  # type: ignore[index]
    live_only = replay(srv, "session", cid, 2)
    assert live_only[0] == {"type": "sync", "through_seq": last} and live_only[1]["type"] == "transient"
