"""Bad client input never crashes the server or another conversation; it is counted and answered as OpenHands does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import websocket

from tests.server.peers import RawSocket, create, peer, wait_until
from tests.support.procs import ReferenceServer


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(
        "--event-delay-ms", "2", "--max-conversations", "0", "--no-vision", "--log-level", "debug"
    ) as srv:
        yield srv


def _bad(server: ReferenceServer) -> dict[str, float]:
    return {k: v for k, v in server.metrics().items() if k.startswith("loadtest_bad_input_total")}


def test_bad_actions_and_frames_are_counted_and_ignored(server: ReferenceServer) -> None:
    victim, bystander = create(server.url), create(server.url)
    with peer(server.url, bystander) as other:
        raw = RawSocket(server.url, {"conversation_id": victim})
        raw.connect_namespace()
        frames = [
            '42["oh_user_action",{"action":"message","args":{"content":',  # malformed JSON
            '42["oh_user_action",{"action":"dance","args":{}}]',  # unknown action
            '42["oh_user_action",{"id":7,"action":"message","args":{"content":"x"}}]',  # id in payload
            '42["oh_user_action",{"type":"message","source":"user","message":"old docs"}]',  # no action key
            '42["oh_user_action","just text"]',
            '42["no_such_event",{}]',
            "4x garbage",
        ]
        for frame in frames:
            raw.ws.send(frame)
        raw.ws.send_binary(b"\x00\xff\xfe binary garbage")
        # the same socket still works afterwards, and nothing was stored for the bad frames
        raw.ws.send('42["oh_user_action",{"action":"message","args":{"content":"good one"}}]')
        received = raw.recv_until(lambda f: '"agent_state":"awaiting_user_input"' in f and '"source":"agent"' in f)
        assert '"content":"good one"' in received[0]
        assert not any('"content":"x"' in f or "dance" in f for f in received)
        raw.close()
        other.send("still fine?")
        assert other.wait_state("awaiting_user_input", count=2)
    bad = _bad(server)
    for kind in ("malformed_json", "unknown_action", "id_in_payload", "missing_action", "not_an_object"):
        assert bad[f'loadtest_bad_input_total{{kind="{kind}"}}'] == 1, (kind, bad)
    assert bad['loadtest_bad_input_total{kind="unknown_event"}'] == 1
    assert bad['loadtest_bad_input_total{kind="binary"}'] == 1
    assert bad['loadtest_bad_input_total{kind="malformed_packet"}'] >= 1
    assert server.alive()


def test_oversize_frame_closes_only_that_connection(server: ReferenceServer) -> None:
    cid = create(server.url)
    with peer(server.url, cid) as other:
        raw = RawSocket(server.url, {"conversation_id": cid})
        raw.connect_namespace()
        big = '42["oh_user_action",{"action":"message","args":{"content":"' + "x" * (4 * 1024 * 1024 + 10) + '"}}]'
        raw.ws.send(big)
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, AssertionError)):
            raw.recv_until(lambda f: False, timeout=3)
        raw.close()
        other.send("after the big one")
        assert other.wait_state("awaiting_user_input", count=2)
        assert not any(len(str(e)) > 1_000_000 for e in other.payloads)
    assert _bad(server)['loadtest_bad_input_total{kind="oversize"}'] == 1
    assert server.alive()


def test_image_upload_without_vision_gets_the_openhands_error_payload(server: ReferenceServer) -> None:
    with peer(server.url, create(server.url)) as p:
        p.emit("oh_user_action", {"action": "message", "args": {"content": "see", "image_urls": ["data:x"]}})
        assert wait_until(lambda: any(e.get("error") for e in p.payloads))
        error = next(e for e in p.payloads if e.get("error"))
        assert error == {"error": True, "message": "Model does not support image upload, change to a different "
                         "model or try without an image."}  # fmt: skip
        assert not any(e.get("source") == "user" for e in p.payloads)
    assert _bad(server)['loadtest_bad_input_total{kind="image_upload"}'] == 1


def test_secrets_never_reach_the_log() -> None:
    with ReferenceServer("--session-api-key", "sup3r-s3cret-value", "--log-level", "debug") as srv:
        cid = create(srv.url, headers={"X-Session-API-Key": "sup3r-s3cret-value"})
        with peer(srv.url, cid, session_api_key="sup3r-s3cret-value") as p:
            p.send("hi")
            assert p.wait_state("awaiting_user_input", count=2)
        srv.stop()
        assert "sup3r-s3cret-value" not in srv.output()
