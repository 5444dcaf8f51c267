"""Every V1 refusal over loopback: HTTP 403 at the upgrade, 4001, 4004, 1013 at the 49th socket, REST 401."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.server.v1.support import HEADERS, KEY, Socket, create, handshake_status, metrics, serve, socket_url
from tests.support.procs import ReferenceServer


@pytest.fixture(scope="module")
def srv() -> Iterator[ReferenceServer]:
    with serve("--event-delay-ms", "2", "--auth-timeout", "0.5") as server:
        yield server


@pytest.fixture(scope="module")
def cid(srv: ReferenceServer) -> str:
    return create(srv.url)


@pytest.mark.parametrize("kind", ["events", "session"])
def test_wrong_or_empty_key_in_query_or_header_is_http_403(srv: ReferenceServer, cid: str, kind: str) -> None:
    assert handshake_status(socket_url(srv.url, kind, cid, session_api_key="wrong")) == 403
    assert handshake_status(socket_url(srv.url, kind, cid, session_api_key="")) == 403
    assert handshake_status(socket_url(srv.url, kind, cid), {"X-Session-API-Key": "wrong"}) == 403
    # the query wins over a right header
    assert handshake_status(socket_url(srv.url, kind, cid, session_api_key="wrong"), {"X-Session-API-Key": KEY}) == 403
    # a right key either way is accepted
    assert handshake_status(socket_url(srv.url, kind, cid, session_api_key=KEY)) == 101
    assert handshake_status(socket_url(srv.url, kind, cid), {"X-Session-API-Key": KEY}) == 101


def test_malformed_uuid_unknown_path_and_bad_resume_are_http_403(srv: ReferenceServer, cid: str) -> None:
    assert handshake_status(socket_url(srv.url, "events", "not-a-uuid", session_api_key=KEY)) == 403
    assert handshake_status(socket_url(srv.url, "nope", cid, session_api_key=KEY)) == 403
    unknown_wrong_key = socket_url(srv.url, "events", str(uuid.uuid4()), session_api_key="wrong")
    assert handshake_status(unknown_wrong_key) == 403
    for query in ({"resend_mode": "bogus"}, {"resend_mode": "since", "after_timestamp": "yesterday"}):
        assert handshake_status(socket_url(srv.url, "events", cid, session_api_key=KEY, **query)) == 403
    raw_plus = socket_url(srv.url, "events", cid, session_api_key=KEY) + "&resend_mode=since"
    assert handshake_status(raw_plus + "&after_timestamp=2026-01-01T00:00:00+00:00") == 403  # '+' decodes to ' '
    assert handshake_status(raw_plus + "&after_timestamp=2026-01-01T00:00:00%2B00:00") == 101
    assert handshake_status(socket_url(srv.url, "session", cid, session_api_key=KEY, after_seq="x")) == 403


@pytest.mark.parametrize(
    "first",
    [
        json.dumps({"type": "auth", "session_api_key": "wrong"}),
        json.dumps({"type": "auth"}),
        "hello",
        json.dumps({"role": "user", "content": [{"type": "text", "text": "hi"}]}),
    ],
)
def test_a_wrong_first_frame_is_accepted_then_closed_4001(srv: ReferenceServer, cid: str, first: str) -> None:
    sock = Socket.open(srv.url, "events", cid, via="none")
    sock.send(first)
    assert sock.closed_with() == (4001, "Authentication failed")
    assert sock.frames == []


def test_silence_is_closed_4001_after_the_auth_timeout(srv: ReferenceServer, cid: str) -> None:
    sock = Socket.open(srv.url, "session", cid, via="none")
    started = time.monotonic()
    assert sock.closed_with(5) == (4001, "Authentication failed")
    assert 0.45 <= time.monotonic() - started < 2.0  # --auth-timeout 0.5


@pytest.mark.parametrize("via", ["frame", "header", "query"])
def test_unknown_conversation_is_accepted_then_closed_4004(srv: ReferenceServer, via: str) -> None:
    sock = Socket.open(srv.url, "events", str(uuid.uuid4()), via=via)
    assert sock.closed_with() == (4004, "Conversation not found")


def test_first_frame_auth_gets_the_snapshot(srv: ReferenceServer, cid: str) -> None:
    sock = Socket.open(srv.url, "events", cid, via="frame")
    first = sock.recv()
    assert first["kind"] == "ConversationStateUpdateEvent" and first["key"] == "full_state"
    sock.close()


def test_the_49th_socket_of_one_conversation_is_closed_1013_both_kinds_share_the_cap(srv: ReferenceServer) -> None:
    cid = create(srv.url)
    before = metrics(srv.url)['loadtest_throttles_total{kind="socket_cap"}']
    open_ = [Socket.open(srv.url, "events" if i % 2 else "session", cid) for i in range(48)]
    for sock in open_:
        sock.recv()  # snapshot (events) or sync (session): each of the 48 is attached
    extra = Socket.open(srv.url, "session", cid)
    assert extra.closed_with() == (1013, "Too many connections for this conversation")
    assert extra.frames == []
    other = Socket.open(srv.url, "events", create(srv.url))  # other conversations are unaffected
    assert other.recv()["key"] == "full_state"
    for sock in open_[:5]:
        sock.close()
    time.sleep(0.3)
    again = [Socket.open(srv.url, "events", cid) for _ in range(5)]
    assert all(s.recv()["key"] == "full_state" for s in again)
    sixth = Socket.open(srv.url, "events", cid)
    assert sixth.closed_with() == (1013, "Too many connections for this conversation")
    assert metrics(srv.url)['loadtest_throttles_total{kind="socket_cap"}'] - before == 2
    for sock in [*open_[5:], *again, other]:
        sock.close()


def test_rest_needs_the_header_key(srv: ReferenceServer, cid: str) -> None:
    base = f"{srv.url}/api/conversations"
    assert requests.get(f"{base}/{cid}", timeout=5).status_code == 401
    assert requests.get(f"{base}/{cid}", headers={"X-Session-API-Key": "wrong"}, timeout=5).json() == {
        "detail": "Unauthorized"
    }
    assert requests.get(f"{base}/{cid}", params={"session_api_key": KEY}, timeout=5).status_code == 401
    assert requests.get(f"{base}/{cid}", headers={"Authorization": f"Bearer {KEY}"}, timeout=5).status_code == 401
    assert requests.get(f"{base}/{cid}", headers=HEADERS, timeout=5).status_code == 200
    unknown = str(uuid.uuid4())
    answer = requests.get(f"{base}/{unknown}", headers=HEADERS, timeout=5)
    assert answer.status_code == 404 and answer.json() == {"detail": f"Conversation not found: {unknown}"}
    for path in ("/health", "/alive", "/ready", "/server_info"):
        assert requests.get(srv.url + path, timeout=5).status_code == 200, path


def test_refusals_are_counted(srv: ReferenceServer) -> None:
    seen = metrics(srv.url)
    for kind in ("v1_wrong_key", "v1_malformed_id", "v1_auth_failed", "v1_conversation_not_found"):
        assert seen.get(f'loadtest_refusals_total{{kind="{kind}"}}', 0) >= 1, kind
