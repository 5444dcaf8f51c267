"""The pure parts of the V1 server: event builders, envelopes, input parsers, the log, the plan."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from loadtest.server.config import ConfigError, ServerConfig
from loadtest.server.faults import faulty_replay
from loadtest.server.v1 import envelope
from loadtest.server.v1 import events as ev
from loadtest.server.v1.inputs import (
    AuthFrame,
    BadFrame,
    CreateRequest,
    MessageFrame,
    Resend,
    normalize_timestamp,
    parse_after_seq,
    parse_create,
    parse_frame,
    parse_resend,
    parse_send,
    parse_uuid,
)
from loadtest.server.v1.plan import chunks, plan_steps
from loadtest.server.v1.store import EventLog, page
from tests.server.v1.support import load_vector


def test_timestamps_have_microseconds_and_no_zone() -> None:
    assert ev.timestamp(datetime(2026, 12, 7, 19, 19, 36)) == "2026-12-07T19:19:36.000000"
    assert ev.timestamp(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02T03:04:05.000006"
    assert ev.created_timestamp(datetime(2026, 1, 2, 3, 4, 5, 7)).endswith(".000007Z")


def test_ids_are_seeded_version_4_uuids() -> None:
    a, b = ev.new_uuid(random.Random(1)), ev.new_uuid(random.Random(1))
    assert a == b and parse_uuid(a) == a and a[14] == "4"


def test_builders_have_the_captured_keys_in_order() -> None:
    _, rows = load_vector("events-basic-turn.jsonl")
    captured = {(f["kind"], "parent_id" in f): f for side, f in rows if side == "server"}
    ts = "2026-12-07T19:19:36.230008"
    built = [
        ev.message_event("i", ts, "p", "hi"),
        ev.state_update("i", ts, "execution_status", "running", "p"),
        ev.system_prompt_event("i", ts),
        ev.action_event("i", ts, "p", "finish", 4, {"message": "m", "kind": "FinishAction"}),
        ev.observation_event("i", ts, "a", "finish", 4, ev.observation_body("FinishObservation", "m")),
    ]
    for event in built:
        theirs = captured[(str(event["kind"]), "parent_id" in event)]
        assert list(event) == list(theirs), event["kind"]
    snapshot = ev.state_update("i", ts, "full_state", {}, None)
    assert "parent_id" not in snapshot


def test_envelopes() -> None:
    assert envelope.sync(None, None) == '{"type":"sync"}'
    assert json.loads(envelope.sync(46, 48)) == {"type": "sync", "from_seq": 46, "through_seq": 48}
    assert json.loads(envelope.sync(None, 3)) == {"type": "sync", "through_seq": 3}
    assert json.loads(envelope.transient('{"id":"x"}')) == {"type": "transient", "event": {"id": "x"}}
    assert list(json.loads(envelope.delta("i", 0, "Hell", "c"))) == [
        "type",
        "item_id",
        "attempt",
        "order",
        "kind",
        "content",
        "chunk_id",
        "choice_index",
    ]


def test_create_parsing_and_redaction() -> None:
    body = {
        "agent": {"llm": {"model": "m", "api_key": "sk-1", "stream": True}, "tools": [{"name": "terminal"}]},
        "workspace": {"working_dir": "/w"},
        "autotitle": False,
    }
    parsed = parse_create(body)
    assert isinstance(parsed, CreateRequest)
    assert parsed.stream and not parsed.autotitle and parsed.llm["api_key"] == "<redacted>"
    missing_workspace = parse_create({"agent": {"llm": {"model": "m", "api_key": "sk-1"}}})
    assert isinstance(missing_workspace, list) and missing_workspace[0]["loc"] == ["body", "workspace"]
    assert "sk-1" not in json.dumps(missing_workspace)
    no_agent = parse_create({"workspace": {}})
    assert isinstance(no_agent, list) and "must be provided" in str(no_agent[0]["msg"])
    no_model = parse_create({"agent": {"llm": {}}, "workspace": {}})
    assert isinstance(no_model, list) and "model must be specified" in str(no_model[0]["msg"])
    assert isinstance(parse_create({**body, "conversation_id": "nope"}), list)


def test_send_and_frames() -> None:
    assert parse_send({"role": "user", "content": [{"type": "text", "text": "hi"}]}) == ("hi", False)
    assert parse_send({"role": "user", "content": "hi", "run": True}) == ("hi", True)
    assert isinstance(parse_send({"content": "hi"}), list)
    assert parse_frame('{"type":"auth","session_api_key":"k"}') == AuthFrame("k")
    assert parse_frame('{"type":"auth"}') == AuthFrame(None)
    assert parse_frame('{"role":"user","content":[{"type":"text","text":"x"}]}') == MessageFrame("x")
    bad = parse_frame('{"foo":1}')
    assert isinstance(bad, BadFrame) and bad.code == "ValidationError"
    assert parse_frame("hello") == BadFrame("JSONDecodeError", "Expecting value: line 1 column 1 (char 0)")


def test_resume_parameters() -> None:
    assert parse_resend(None, None, None) == Resend("none")
    assert parse_resend(None, None, "true") == Resend("all")
    assert parse_resend("all", None, None) == Resend("all")
    assert parse_resend("since", None, None) == Resend("since", None)
    assert parse_resend("since", "2026-12-07T19:19:37.047619", None) == Resend("since", "2026-12-07T19:19:37.047619")
    assert parse_resend("since", "2026-12-07T19:19:37", None) == Resend("since", "2026-12-07T19:19:37.000000")
    assert parse_resend("bogus", None, None) is None
    assert parse_resend("since", "2026-12-07T19:19:37 00:00", None) is None  # a raw '+' decoded as a space
    local = datetime(2026, 12, 7, 19, 19, 37, 5).astimezone()
    for zoned in (local.isoformat(), local.astimezone(timezone(timedelta(hours=2))).isoformat()):
        assert normalize_timestamp(zoned) == "2026-12-07T19:19:37.000005"
    assert parse_after_seq(None) is None and parse_after_seq("-1") == -1 and parse_after_seq("46") == 46
    for bad in ("x", "-2", ""):
        with pytest.raises(ValueError):
            parse_after_seq(bad)


def test_log_since_search_and_pages() -> None:
    log = EventLog()
    stamps = [
        "2026-01-01T00:00:00.000001",
        "2026-01-01T00:00:00.000002",
        "2026-01-01T00:00:00.000002",
        "2026-01-01T00:00:00.000003",
    ]
    for n, ts in enumerate(stamps):
        log.append(
            ev.state_update(f"id{n}", ts, "stats", {}, None) if n % 2 else ev.message_event(f"id{n}", ts, None, "x")
        )
    assert [e.id for e in log.since("2026-01-01T00:00:00.000002")] == ["id1", "id2", "id3"]
    assert [e.id for e in log.since("2026-01-01T00:00:00.000004")] == []
    assert [e.id for e in log.search(kind="MessageEvent")] == ["id0", "id2"]
    assert [e.id for e in log.search(gte=stamps[1], lt=stamps[3])] == ["id1", "id2"]
    assert [e.id for e in log.search(descending=True)] == ["id3", "id2", "id1", "id0"]
    first, nxt = page(log.events, None, 3)
    assert [e.id for e in first] == ["id0", "id1", "id2"] and nxt == "id3"
    assert page(log.events, nxt, 3)[1] is None
    assert log.events[2].durable.startswith('{"type":"durable","seq":2,"event":{"id":"id2"')
    plan = faulty_replay(log.events, 2, 3)
    assert [e.id for e in plan.events] == ["id0", "id2", "id2"] and (plan.skipped, plan.repeated) == (2, 1)


def test_plan_follows_the_shared_script() -> None:
    cfg = ServerConfig(script=("run", "edit", "message"))
    steps = plan_steps(cfg, "please finish", random.Random(0))
    assert [(s.kind, s.tool) for s in steps] == [("tool", "terminal"), ("tool", "file_editor"), ("tool", "finish")]
    assert [s.kind for s in plan_steps(ServerConfig(script=("error", "run")), "x", random.Random(0))] == ["error"]
    assert chunks("Hello from the mock LLM.", 6) == ["Hell", "o fr", "om t", "he m", "ock ", "LLM."]
    assert len(chunks("ab", 4)) == 4 and chunks("x", 0) == []


def test_v1_settings_are_checked() -> None:
    assert ServerConfig().api == "v0" and ServerConfig().auth_timeout == 10.0 and ServerConfig().socket_cap == 48
    assert ServerConfig().max_runs == 10
    for change in (
        {"api": "v2"},
        {"max_runs": -1},
        {"auth_timeout": 0},
        {"stream_rate": 0.0},
        {"replay_interleave_ms": -1.0},
    ):
        with pytest.raises(ConfigError):
            ServerConfig(**change)  # type: ignore[arg-type]
