"""V1 resume queries and strategies, client frames and bodies, and the redaction of secrets."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from loadtest.errors import LoadtestError
from loadtest.openhands.v1.resume import (
    REST_PAGE_MAX,
    encode_query,
    events_query,
    frontend_rest_query,
    frontend_resume_point,
    sdk_rest_query,
    session_query,
)
from loadtest.openhands.v1.wire import (
    REDACTED,
    AgentSettingsError,
    auth_frame,
    create_body,
    message_frame,
    parse_agent_settings,
    redact,
    run_path,
    search_path,
    secret_values,
    send_body,
    socket_path,
)
from loadtest.ws.dial import target_of

from .vectors import DATA


def test_events_queries() -> None:
    assert events_query("since", "2026-12-07T19:19:53.956705") == {
        "resend_mode": "since",
        "after_timestamp": "2026-12-07T19:19:53.956705",
    }
    assert events_query("since", None) == {"resend_mode": "all"}  # since without T would replay nothing
    assert events_query("all") == {"resend_mode": "all"} and events_query("none") == {}
    with pytest.raises(ValueError, match="since, all or none"):
        events_query("everything")


def test_zoned_timestamp_plus_goes_as_percent_2b() -> None:
    q = encode_query(events_query("since", "2026-12-07T19:19:53.956705+02:00"))
    assert "%2B02%3A00" in q and "+" not in q
    assert parse_qs(q)["after_timestamp"] == ["2026-12-07T19:19:53.956705+02:00"]
    # what our WebSocket really puts in the upgrade request for the same query
    target = target_of("ws://127.0.0.1:1/sockets/events/c", events_query("since", "2026-12-07T19:19:53.956705+02:00"))
    assert target.path == "/sockets/events/c?" + q


def test_session_queries() -> None:
    assert session_query(None) == {} and session_query(-1) == {"after_seq": "-1"}
    assert session_query(46) == {"after_seq": "46"} and session_query(-5) == {"after_seq": "-1"}


def test_frontend_and_sdk_strategies() -> None:
    assert frontend_rest_query(500) == {"sort_order": "TIMESTAMP_DESC", "limit": str(REST_PAGE_MAX)}
    with open(DATA / "rest-events-search.json", encoding="utf-8") as f:
        items: list[Any] = json.load(f)["response"]["body"]["items"]
    assert frontend_resume_point(items, None) == "2026-12-07T19:19:36.951585"
    assert frontend_resume_point(items, "2026-12-07T19:20:00") == "2026-12-07T19:20:00"
    assert frontend_resume_point([{"kind": "StreamingDeltaEvent", "timestamp": "2099"}, 3], None) is None
    assert sdk_rest_query("T", "p") == {
        "sort_order": "TIMESTAMP",
        "limit": "100",
        "timestamp__gte": "T",
        "page_id": "p",
    }
    assert "timestamp__gte" not in sdk_rest_query(None)


def test_frames_and_paths() -> None:
    assert json.loads(auth_frame("k")) == {"type": "auth", "session_api_key": "k"}
    assert json.loads(message_frame("héllo")) == {"role": "user", "content": [{"type": "text", "text": "héllo"}]}
    assert send_body("hi") == {"role": "user", "content": [{"type": "text", "text": "hi"}], "run": True}
    assert send_body("hi", run=False)["run"] is False
    assert run_path("c1") == "/api/conversations/c1/run"
    assert search_path("c1") == "/api/conversations/c1/events/search"
    assert socket_path("c1") == "/sockets/events/c1" and socket_path("c1", "session") == "/sockets/session/c1"
    with pytest.raises(ValueError):
        socket_path("c1", "socket.io")


def _captured_create() -> dict[str, Any]:
    with open(DATA / "rest-create.json", encoding="utf-8") as f:
        doc: dict[str, Any] = json.load(f)
    return doc


def test_create_body_matches_the_captured_request() -> None:
    request = _captured_create()["request"]["body"]
    settings = parse_agent_settings(json.dumps({"agent": request["agent"]}))
    assert create_body(settings, "<workspace>") == request
    assert parse_agent_settings(json.dumps(request["agent"])) == settings  # the agent object alone
    body = create_body(settings, "/w", conversation_id="c", initial_message="go", stream=True)
    assert body["conversation_id"] == "c" and body["initial_message"]["content"][0]["text"] == "go"
    assert body["agent"]["llm"]["stream"] is True and "stream" not in settings["agent"]["llm"]  # not modified
    assert create_body({"agent": {}, "workspace": {"working_dir": "/x"}}, "/w")["workspace"] == {"working_dir": "/x"}


@pytest.mark.parametrize("text", ["{", "[1]", '{"model": "x"}', '"sk-mock"'])
def test_bad_agent_settings_name_the_fix_without_the_value(text: str) -> None:
    with pytest.raises(AgentSettingsError) as info:
        parse_agent_settings(text)
    assert isinstance(info.value, LoadtestError) and "--agent-settings" in str(info.value)
    assert "sk-mock" not in str(info.value) and repr(info.value) == "AgentSettingsError()"


def test_redaction_leaves_no_key_in_repr_or_json() -> None:
    doc = _captured_create()
    secret_settings = {
        "agent": {
            "llm": {
                "model": "openai/gpt-4o",
                "api_key": "sk-live-123456",
                "aws_secret_access_key": "AWSSECRET",
                "aws_access_key_id": "AKIAXXXX",
                "aws_session_token": "AWSTOKEN",
                "extra_headers": {"Authorization": "Bearer HDRSECRET"},
                "max_input_tokens": 1000,
                "per_turn_token": 0,
            },
            "mcp_config": {"servers": [{"env": {"GITHUB_TOKEN": "ghp_SECRET"}}]},
        },
        "secrets": {"MY_PASSWORD": "pw-SECRET"},
        "note": "the session key sess-KEY-42 in an error",
    }
    out = redact({"doc": doc, "settings": secret_settings}, secrets=["sess-KEY-42"])
    text = json.dumps(out) + repr(out)
    for secret in (
        "sk-mock",
        "sk-live-123456",
        "AWSSECRET",
        "AKIAXXXX",
        "AWSTOKEN",
        "HDRSECRET",
        "ghp_SECRET",
        "pw-SECRET",
        "sess-KEY-42",
    ):
        assert secret not in text, secret
    llm = out["settings"]["agent"]["llm"]
    assert llm["api_key"] == REDACTED and llm["max_input_tokens"] == 1000 and llm["per_turn_token"] == 0
    assert llm["model"] == "openai/gpt-4o"
    assert out["doc"]["response"]["body"]["agent"]["llm"]["api_key"] is None  # the server's own null stays
    assert secret_settings["agent"]["llm"]["api_key"] == "sk-live-123456"  # the input is not modified
    found = secret_values(secret_settings)
    assert {"sk-live-123456", "AWSSECRET", "AKIAXXXX", "AWSTOKEN", "ghp_SECRET", "pw-SECRET"} <= set(found)
    assert "openai/gpt-4o" not in found
