"""events.classify on the payloads of protocol doc §5 (and the real-server copies in openhands-real.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loadtest.openhands.events import END_STATES, EventKind, classify

# Verbatim (ids/timestamps illustrative) from ../shared/openhands-protocol.md §4-5.
USER_MESSAGE = (
    '{"id":0,"timestamp":"2025-11-28T12:00:00.123456","source":"user","message":"Hello","action":"message",'
    '"args":{"content":"Hello","file_urls":null,"image_urls":null,"wait_for_response":false,"security_risk":-1}}'
)
AGENT_MESSAGE = (
    '{"id":12,"timestamp":"2025-11-28T12:00:05.000001","source":"agent","message":"Done. Anything else?",'
    '"action":"message","llm_metrics":{"accumulated_cost":0.0123,"max_budget_per_task":null,'
    '"accumulated_token_usage":{"model":"gpt-4o","prompt_tokens":1200,"completion_tokens":80,'
    '"cache_read_tokens":0,"cache_write_tokens":0,"context_window":128000,"per_turn_token":0,'
    '"response_id":"chatcmpl-x"},"costs":[],"response_latencies":[],"token_usages":[]},'
    '"args":{"content":"Done. Anything else?","file_urls":null,"image_urls":null,"wait_for_response":true,'
    '"security_risk":-1}}'
)
RUN = (
    '{"id":2,"timestamp":"t","source":"agent","message":"Running command: ls","action":"run","args":{"command":"ls",'
    '"is_input":false,"thought":"list","blocking":false,"is_static":false,"cwd":null,"hidden":false,'
    '"confirmation_state":"confirmed","security_risk":-1}}'
)
RUN_OUTPUT = (
    '{"id":3,"timestamp":"t","source":"agent","message":"Command `ls` executed with exit code 0.","cause":2,'
    '"observation":"run","content":"a.txt","extras":{"command":"ls","metadata":{"exit_code":0,"pid":12,'
    '"username":null,"hostname":null,"working_dir":"/workspace","py_interpreter_path":null,"prefix":"",'
    '"suffix":""},"hidden":false},"success":true}'
)
EDIT = (
    '{"id":4,"timestamp":"t","source":"agent","message":"","action":"edit","args":{"path":"/workspace/a.py",'
    '"command":"create","file_text":"print(1)","old_str":null,"new_str":null,"insert_line":null,"content":"",'
    '"start":1,"end":-1,"thought":"","security_risk":-1,"impl_source":"oh_aci"}}'
)
EDIT_OUTPUT = (
    '{"id":5,"timestamp":"t","source":"agent","message":"I edited the file /workspace/a.py.","cause":4,'
    '"observation":"edit","content":"<diff text>","extras":{"path":"/workspace/a.py","prev_exist":false,'
    '"old_content":"","new_content":"print(1)","impl_source":"oh_aci","diff":null,"_diff_cache":null}}'
)
WRITE = (
    '{"id":6,"timestamp":"t","source":"agent","message":"Writing file: /workspace/b.txt","action":"write",'
    '"args":{"path":"/workspace/b.txt","content":"x","start":0,"end":-1,"thought":"","security_risk":-1}}'
)
STATE_RUNNING = (
    '{"id":7,"timestamp":"t","source":"environment","message":"","observation":"agent_state_changed","content":"",'
    '"extras":{"agent_state":"running","reason":""}}'
)
STATE_ERROR = (
    '{"id":8,"timestamp":"t","source":"environment","message":"","observation":"agent_state_changed","content":"",'
    '"extras":{"agent_state":"error","reason":"RuntimeError: boom"}}'
)
STATE_STOPPED_IDLESS = (
    '{"message":"","observation":"agent_state_changed","content":"","extras":{"agent_state":"stopped","reason":""}}'
)
ERROR_OBS = (
    '{"id":9,"timestamp":"t","source":"agent","message":"bad","observation":"error","content":"bad",'
    '"extras":{"error_id":"AGENT_ERROR$X"}}'
)
ECHO = (
    '{"id":12,"timestamp":"2025-11-28T12:00:00.123456","source":"user","message":"hey","action":"message",'
    '"args":{"content":"hey","file_urls":[],"image_urls":[],"wait_for_response":false,"security_risk":-1}}'
)
STATUS_READY = '{"status_update":true,"type":"info","id":"STATUS$READY","message":"ready"}'
STATUS_TOO_MANY = (
    '{"status_update":true,"type":"error","id":"AGENT_ERROR$TOO_MANY_CONVERSATIONS","message":"Too many '
    'conversations at once. If you are still using this one, try reactivating it by prompting the agent to continue"}'
)
TITLE = '{"status_update":true,"type":"info","message":"0123abcd","conversation_title":"My title"}'
METADATA_PING = '{"status_update":true,"type":"info","id":null,"message":"0123abcd"}'
SESSION_ERROR = '{"error":true,"message":"Failed to create agent session: RuntimeError"}'
FINISH = (
    '{"id":8,"source":"agent","message":"Hello from mock LLM.","action":"finish",'
    '"args":{"final_thought":"Hello from mock LLM.","outputs":{},"thought":""}}'
)
RECALL = '{"id":5,"source":"user","message":"Retrieving content for: hello","action":"recall","args":{}}'
RECALL_OBS = '{"id":7,"source":"agent","message":"Added workspace context","observation":"recall","content":""}'
COMPACT_STATE = (
    '{"id":3,"source":"environment","observation":"agent_state_changed","agent_state":"awaiting_user_input"}'
)

CASES: list[tuple[str, EventKind, int | None, str | None, str | None]] = [
    (USER_MESSAGE, EventKind.USER_MESSAGE, 0, None, None),
    (ECHO, EventKind.USER_MESSAGE, 12, None, None),
    (AGENT_MESSAGE, EventKind.AGENT_MESSAGE, 12, None, None),
    (RUN, EventKind.RUN, 2, None, None),
    (RUN_OUTPUT, EventKind.RUN_OUTPUT, 3, None, None),
    (EDIT, EventKind.EDIT, 4, None, None),
    (EDIT_OUTPUT, EventKind.EDIT_OUTPUT, 5, None, None),
    (WRITE, EventKind.WRITE, 6, None, None),
    (STATE_RUNNING, EventKind.AGENT_STATE, 7, "running", None),
    (STATE_ERROR, EventKind.AGENT_STATE, 8, "error", None),
    (STATE_STOPPED_IDLESS, EventKind.AGENT_STATE, None, "stopped", None),
    (COMPACT_STATE, EventKind.AGENT_STATE, 3, "awaiting_user_input", None),
    (ERROR_OBS, EventKind.ERROR_OBSERVATION, 9, None, None),
    (STATUS_READY, EventKind.STATUS_INFO, None, None, "STATUS$READY"),
    (STATUS_TOO_MANY, EventKind.STATUS_ERROR, None, None, "AGENT_ERROR$TOO_MANY_CONVERSATIONS"),
    (TITLE, EventKind.TITLE_UPDATE, None, None, None),
    (METADATA_PING, EventKind.TITLE_UPDATE, None, None, None),
    (SESSION_ERROR, EventKind.SESSION_ERROR, None, None, None),
    (FINISH, EventKind.FINISH, 8, None, None),
    (RECALL, EventKind.RECALL, 5, None, None),
    (RECALL_OBS, EventKind.RECALL_OUTPUT, 7, None, None),
]


@pytest.mark.parametrize(("raw", "kind", "eid", "state", "status_id"), CASES)
def test_doc_payloads(raw: str, kind: EventKind, eid: int | None, state: str | None, status_id: str | None) -> None:
    c = classify(json.loads(raw))
    assert c.kind is kind
    assert c.id == eid
    assert c.state == state
    assert c.status_id == status_id


def test_source_is_kept() -> None:
    assert classify(json.loads(STATE_RUNNING)).source == "environment"
    assert classify(json.loads(ECHO)).source == "user"
    assert classify(json.loads(STATUS_READY)).source is None


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"id": 1, "source": "agent", "action": "read", "args": {"path": "a"}}, EventKind.READ),
        ({"id": 1, "source": "agent", "observation": "read", "content": "x"}, EventKind.READ_OUTPUT),
        ({"id": 1, "source": "agent", "observation": "write", "content": ""}, EventKind.WRITE_OUTPUT),
        ({"id": 1, "source": "agent", "action": "think", "args": {"thought": "hm"}}, EventKind.THINK),
        ({"id": 1, "source": "agent", "action": "system", "args": {}}, EventKind.OTHER_ACTION),
        ({"id": 1, "source": "environment", "action": "change_agent_state", "args": {}}, EventKind.OTHER_ACTION),
        ({"id": 1, "source": "agent", "observation": "browse", "content": ""}, EventKind.OTHER_OBSERVATION),
        ({"id": 1, "source": "agent", "action": "null", "args": {}}, EventKind.NULL),
        ({"id": 1, "source": "agent", "observation": "null", "content": ""}, EventKind.NULL),
        ({"id": 1, "source": "environment", "action": "message", "args": {}}, EventKind.AGENT_MESSAGE),
    ],
)
def test_other_shapes(payload: dict[str, Any], kind: EventKind) -> None:
    assert classify(payload).kind is kind


@pytest.mark.parametrize("payload", [None, 3, "x", [], [{"id": 1}], {}, {"id": 4}, {"status_update": "yes"}])
def test_unknown(payload: Any) -> None:
    c = classify(payload)
    assert c.kind is EventKind.UNKNOWN
    assert c.id is None


@pytest.mark.parametrize("bad_id", [-1, True, "3", 2.0, None])
def test_only_plain_non_negative_int_ids(bad_id: Any) -> None:
    assert classify({"id": bad_id, "source": "agent", "action": "run", "args": {}}).id is None


def test_state_without_extras_has_no_state() -> None:
    c = classify({"id": 3, "observation": "agent_state_changed", "extras": None})
    assert c.kind is EventKind.AGENT_STATE
    assert c.state is None


def test_end_states() -> None:
    assert "running" not in END_STATES
    assert {"awaiting_user_input", "finished", "error", "rate_limited", "stopped", "rejected", "paused"} == END_STATES


def test_kind_values_are_unique_snake_case() -> None:
    values = [k.value for k in EventKind]
    assert len(values) == len(set(values))
    assert all(v == v.lower() and " " not in v for v in values)
