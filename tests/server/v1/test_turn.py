"""One V1 turn, frame by frame, against the frames captured from agent server 1.58.2 (tests/data/v1)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
import requests

from tests.server.v1.support import (
    HEADERS,
    Frame,
    Socket,
    create,
    describe,
    event_of,
    is_end,
    load_vector,
    message,
    serve,
)
from tests.support.procs import ReferenceServer

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
NESTED = ("llm_message", "tool_call", "action", "observation", "system_prompt")


def captured_turns(name: str) -> list[list[Frame]]:
    """The server frames of a vector, split after each end-of-turn `full_state` (the first snapshot is its own)."""
    _, rows = load_vector(name)
    turns: list[list[Frame]] = [[]]
    for side, frame in rows:
        if side != "server":
            continue
        turns[-1].append(frame)
        if is_end(frame):
            turns.append([])
    return [t for t in turns if t]


def assert_same_shape(ours: Frame, theirs: Frame) -> None:
    """Same keys at the top, in the nested objects that carry the payload, and in a full_state's value."""
    a, b = event_of(ours), event_of(theirs)
    assert set(ours) == set(theirs), (describe(ours), set(ours) ^ set(theirs))
    assert set(a) == set(b), (describe(ours), set(a) ^ set(b))
    for key in NESTED:
        if isinstance(b.get(key), dict):
            assert isinstance(a.get(key), dict) and set(a[key]) == set(b[key]), (describe(ours), key)  # type: ignore[arg-type]
    if b.get("key") == "full_state":
        va, vb = a["value"], b["value"]
        assert isinstance(va, dict) and isinstance(vb, dict) and set(va) == set(vb), set(va) ^ set(vb)  # type: ignore[arg-type]
    if "kind" in a:
        assert STAMP.match(str(a["timestamp"])) and UUID.match(str(a["id"])), a


@pytest.fixture(scope="module")
def srv() -> Iterator[ReferenceServer]:
    with serve("--event-delay-ms", "2", "--script", "finish") as server:
        yield server


def test_connect_and_two_turns_match_the_captured_frames(srv: ReferenceServer) -> None:
    snapshot, turn1, turn2 = captured_turns("events-basic-turn.jsonl")
    sock = Socket.open(srv.url, "events", create(srv.url), via="frame")
    ours = [sock.recv()]
    assert [describe(f) for f in ours] == [describe(f) for f in snapshot]
    assert_same_shape(ours[0], snapshot[0])
    for captured in (turn1, turn2):
        sock.send(message("hello over the socket"))
        got = sock.until(is_end)
        assert [describe(f) for f in got] == [describe(f) for f in captured]
        for mine, theirs in zip(got, captured, strict=True):
            assert_same_shape(mine, theirs)
    ids = [f["id"] for f in sock.frames]
    assert len(set(ids)) == len(ids)
    sock.close()


def without_stats(frames: list[Frame]) -> list[str]:
    return [describe(f) for f in frames if event_of(f).get("key") != "stats"]


def test_the_session_socket_matches_the_captured_run() -> None:
    captured = captured_turns("session-socket-run.jsonl")
    flat = [f for turn in captured for f in turn]
    with serve("--event-delay-ms", "2", "--script", "run,finish") as srv:
        cid = create(srv.url)
        sock = Socket.open(srv.url, "session", cid, via="frame")
        sync = sock.recv()
        assert sync == {"type": "sync"}
        sock.recv()
        sender = Socket.open(srv.url, "events", cid)
        sender.send(message("please list files"))
        sock.until(is_end)
        got = sock.frames
        assert without_stats(got) == without_stats(flat)
        assert sum(1 for f in got if event_of(f).get("key") == "stats") == 3
        assert [f["seq"] for f in got if f["type"] == "durable"] == list(range(12))
        by_kind: dict[str, list[Frame]] = {}
        for frame in flat:
            by_kind.setdefault(describe(frame), []).append(frame)
        for frame in got:  # each against the captured frame of the same kind and rank
            same = by_kind[describe(frame)]
            assert_same_shape(frame, same.pop(0) if len(same) > 1 else same[0])
        sock.close()
        sender.close()


def test_a_failed_run_ends_in_error_and_the_next_message_has_no_leading_idle() -> None:
    with serve("--event-delay-ms", "2", "--script", "error") as srv:
        sock = Socket.open(srv.url, "events", create(srv.url))
        sock.recv()
        for _ in range(2):
            sock.send(message("please"))
            got = [describe(f) for f in sock.until(is_end) if event_of(f).get("key") != "stats"]
            assert got[-4:] == [
                "ConversationStateUpdateEvent execution_status running",
                "ConversationStateUpdateEvent execution_status error",
                "ConversationErrorEvent",
                "ConversationStateUpdateEvent full_state",
            ]
            assert "ConversationStateUpdateEvent execution_status idle" not in got
            assert sock.frames[-1]["value"]["execution_status"] == "error"  # type: ignore[index]
        error = next(f for f in sock.frames if f["kind"] == "ConversationErrorEvent")
        assert error["code"] == "LLMServiceUnavailableError" and set(error["classification"]) == {  # type: ignore[arg-type]
            "kind",
            "retryable",
            "user_action",
        }


def test_a_message_sent_mid_run_joins_that_run() -> None:
    with serve("--event-delay-ms", "40", "--script", "run,finish") as srv:
        sock = Socket.open(srv.url, "events", create(srv.url))
        sock.recv()
        sock.send(message("first"))
        sock.until(lambda f: f.get("value") == "running")
        sock.send(message("second"))
        got = sock.until(is_end, timeout=10)
        kinds = [describe(f) for f in got if f.get("key") != "stats"]
        assert kinds.count("MessageEvent") == 1  # the second message's echo, mid-run
        assert sum(1 for f in sock.frames if f.get("key") == "full_state") == 2  # the snapshot and one end
        at = kinds.index("ConversationStateUpdateEvent execution_status finished")
        assert kinds[at + 1] == "ConversationStateUpdateEvent execution_status running"
        assert kinds[-2:] == [
            "ConversationStateUpdateEvent execution_status finished",
            "ConversationStateUpdateEvent full_state",
        ]
        assert kinds.count("ActionEvent finish") == 2
        assert sock.quiet(0.3) == []


def test_bad_frames_get_a_server_error_and_the_socket_stays_open(srv: ReferenceServer) -> None:
    sock = Socket.open(srv.url, "events", create(srv.url))
    sock.recv()
    sock.send(json.dumps({"foo": 1}))
    error = sock.recv()
    assert error["kind"] == "ServerErrorEvent" and error["code"] == "ValidationError"
    assert str(error["detail"]).startswith("1 validation error for Message\nrole\n  Field required")
    sock.send("not json")
    assert sock.recv()["code"] == "JSONDecodeError"
    sock.send(message("still works"))
    assert is_end(sock.until(is_end)[-1])
    stored = requests.get(
        f"{srv.url}/api/conversations/{sock.frames[0]['value']['id']}/events/search",  # type: ignore[index]
        headers=HEADERS,
        timeout=5,
    ).json()["items"]
    assert not any(e["kind"] == "ServerErrorEvent" for e in stored)
    sock.close()


def test_rest_send_without_run_only_stores_then_run_runs_and_409_while_running() -> None:
    with serve("--event-delay-ms", "30", "--script", "finish") as srv:
        cid = create(srv.url)
        base = f"{srv.url}/api/conversations/{cid}"
        sock = Socket.open(srv.url, "events", cid)
        sock.recv()
        body = {"role": "user", "content": [{"type": "text", "text": "stored only"}]}
        assert requests.post(f"{base}/events", json=body, headers=HEADERS, timeout=5).json() == {"success": True}
        got = sock.quiet(0.4)
        assert [describe(f) for f in got] == [
            "SystemPromptEvent",
            "MessageEvent",
            "ConversationStateUpdateEvent last_user_message_id",
            "ConversationStateUpdateEvent stats",
        ]
        assert requests.get(base, headers=HEADERS, timeout=5).json()["execution_status"] == "idle"
        assert requests.post(f"{base}/run", headers=HEADERS, timeout=5).json() == {"success": True}
        busy = requests.post(f"{base}/run", headers=HEADERS, timeout=5)
        assert busy.status_code == 409
        assert busy.json() == {"detail": "Conversation already running. Wait for completion or pause first."}
        assert is_end(sock.until(is_end)[-1])
        info = requests.get(base, headers=HEADERS, timeout=5).json()
        assert info["execution_status"] == "finished" and info["title"] == "stored only"
        sock.close()


def test_the_schedule_follows_the_injected_delays() -> None:
    """echo at --echo-delay-ms; running, each action/observation and the final status one --event-delay-ms apart."""
    echo_ms, step_ms = 20.0, 40.0
    with serve("--event-delay-ms", str(step_ms), "--echo-delay-ms", str(echo_ms), "--script", "run,finish") as srv:
        sock = Socket.open(srv.url, "events", create(srv.url))
        sock.recv()
        sent = sock.send(message("go"))
        got = sock.until(is_end)
        at = {describe(f): (stamp - sent) * 1000 for f, stamp in zip(got, sock.stamps[1:], strict=True)}
        expected = {
            "MessageEvent": echo_ms,
            "ConversationStateUpdateEvent execution_status running": echo_ms + step_ms,
            "ActionEvent terminal": echo_ms + 2 * step_ms,
            "ObservationEvent terminal": echo_ms + 3 * step_ms,
            "ActionEvent finish": echo_ms + 4 * step_ms,
            "ObservationEvent finish": echo_ms + 5 * step_ms,
            "ConversationStateUpdateEvent execution_status finished": echo_ms + 6 * step_ms,
            "ConversationStateUpdateEvent full_state": echo_ms + 6 * step_ms,
        }
        for name, truth in expected.items():
            assert truth - 1 <= at[name] <= truth + 25, (name, at[name], truth)
        sock.close()


def test_create_reuse_and_422_shapes(srv: ReferenceServer) -> None:
    cid = create(srv.url)
    url = f"{srv.url}/api/conversations"
    body = {
        "agent": {"llm": {"model": "m", "api_key": "secret"}},
        "workspace": {"working_dir": "/w"},
        "conversation_id": cid,
    }
    again = requests.post(url, json=body, headers=HEADERS, timeout=5)
    assert again.status_code == 200 and again.json()["id"] == cid
    fresh = requests.post(url, json={**body, "conversation_id": None}, headers=HEADERS, timeout=5).json()
    assert fresh["execution_status"] == "idle" and UUID.match(fresh["id"]) and fresh["agent"]["llm"]["api_key"] is None
    _, rest = load_vector_json("rest-create.json")
    for case in rest:
        answer = requests.post(url, json=case["body_sent"], headers=HEADERS, timeout=5)
        assert answer.status_code == 422
        got, want = answer.json()["detail"][0], case["response"]["detail"][0]
        assert (got["type"], got["loc"], got["msg"]) == (want["type"], want["loc"], want["msg"])
        assert "secret" not in answer.text


def load_vector_json(name: str) -> tuple[dict[str, object], list[dict[str, dict[str, object]]]]:
    from tests.server.v1.support import DATA

    doc = json.loads((DATA / name).read_text(encoding="utf-8"))
    cases = [c for c in doc["other_outcomes"] if c.get("status") == 422]
    return doc, cases


def test_timestamps_are_zone_less_with_microseconds(srv: ReferenceServer) -> None:
    sock = Socket.open(srv.url, "events", create(srv.url))
    sock.recv()
    sock.send(message("x"))
    sock.until(is_end)
    assert all(STAMP.match(str(f["timestamp"])) for f in sock.frames)
    time.sleep(0.01)
    sock.close()


def test_delete_closes_the_sockets_and_forgets_the_conversation(srv: ReferenceServer) -> None:
    cid = create(srv.url)
    sock = Socket.open(srv.url, "session", cid)
    sock.recv()
    sock.recv()
    answer = requests.delete(f"{srv.url}/api/conversations/{cid}", headers=HEADERS, timeout=5)
    assert answer.status_code == 200 and answer.json() == {"success": True}
    assert sock.closed_with() == (1000, "Conversation deleted")
    gone = requests.get(f"{srv.url}/api/conversations/{cid}", headers=HEADERS, timeout=5)
    assert gone.status_code == 404 and gone.json() == {"detail": f"Conversation not found: {cid}"}
    assert Socket.open(srv.url, "events", cid).closed_with() == (4004, "Conversation not found")
