"""OpenHands V1 event payloads as agent server 1.58.2 sends them (openhands-v1.md §4). Pure: no I/O, no clock.

Every builder takes the event's id and timestamp from the caller and returns a plain dict with the keys in
the server's order, null fields left out. `Event` values are JSON-ready (str, int, float, bool, None, lists,
dicts).
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime

Event = dict[str, object]

AGENT, USER, ENVIRONMENT = "agent", "user", "environment"
STATE_KIND = "ConversationStateUpdateEvent"
MODEL = "openai/loadtest-model"
#: `execution_status` values of the SDK's enum (the last four were never seen on the real server).
EXECUTION_STATUSES: frozenset[str] = frozenset(
    {"idle", "running", "finished", "error", "paused", "waiting_for_confirmation", "stuck", "deleting"}
)
#: Event kinds `GET …/events/search?kind=` accepts (stored kinds; socket-only kinds are never stored).
STORED_KINDS: frozenset[str] = frozenset(
    {
        "SystemPromptEvent", "MessageEvent", "ActionEvent", "ObservationEvent", STATE_KIND,
        "ConversationErrorEvent", "AgentErrorEvent", "UserRejectObservation", "PauseEvent", "Condensation",
    }
)  # fmt: skip
RUN_LIMIT_SOCKET = (
    "Message saved, but the conversation run limit was reached. "
    "Retry POST /api/conversations/{id}/run without resending the message."
)
RUN_LIMIT_CREATE = "Conversation run limit reached. Retry the request later."
ALREADY_RUNNING = "Conversation already running. Wait for completion or pause first."


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID with dashes, from a seeded generator (the real server uses uuid4)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def timestamp(at: datetime) -> str:
    """The server's event timestamp: ISO 8601, always six fraction digits, no zone (server-local time)."""
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


def created_timestamp(at: datetime) -> str:
    """ConversationInfo's `created_at`/`updated_at`: the same with a `Z` suffix."""
    return timestamp(at) + "Z"


def state_update(eid: str, ts: str, key: str, value: object, parent_id: str | None) -> Event:
    """A `ConversationStateUpdateEvent`; `full_state` has no parent."""
    event: Event = {"id": eid, "timestamp": ts, "source": ENVIRONMENT}
    if parent_id is not None:
        event["parent_id"] = parent_id
    event.update({"key": key, "value": value, "kind": STATE_KIND})
    return event


def _text(text: str) -> dict[str, object]:
    return {"cache_prompt": False, "type": "text", "text": text}


def message_event(eid: str, ts: str, parent_id: str | None, text: str, source: str = USER) -> Event:
    """The user's message echoed (or an agent message: `source="agent"`, role assistant)."""
    role = "user" if source == USER else "assistant"
    event: Event = {"id": eid, "timestamp": ts, "source": source}
    if parent_id is not None:
        event["parent_id"] = parent_id
    event["llm_message"] = {"role": role, "content": [_text(text)], "thinking_blocks": []}
    event.update({"activated_skills": [], "extended_content": [], "kind": "MessageEvent"})
    return event


TOOL_SPECS: tuple[tuple[str, str, str, str], ...] = (
    ("terminal", "TerminalAction", "TerminalObservation", "TerminalTool"),
    ("file_editor", "FileEditorAction", "FileEditorObservation", "FileEditorTool"),
    ("finish", "FinishAction", "FinishObservation", "FinishTool"),
    ("think", "ThinkAction", "ThinkObservation", "ThinkTool"),
)


def system_prompt_event(eid: str, ts: str, prompt_chars: int = 15000) -> Event:
    """The once-per-conversation `SystemPromptEvent` (17–20 KB on the real server)."""
    line = "You are OpenHands agent, a helpful AI assistant that can interact with a computer to solve tasks.\n"
    text = (line * (prompt_chars // len(line) + 1))[:prompt_chars]
    tools = [
        {
            "description": f"The {name} tool of the simulated agent. " + "It acts on the workspace. " * 20,
            "action_type": action,
            "observation_type": observation,
            "annotations": {"title": name, "readOnlyHint": name in ("finish", "think"), "destructiveHint": False},
            "kind": kind,
            "title": name,
        }
        for name, action, observation, kind in TOOL_SPECS
    ]
    return {"id": eid, "timestamp": ts, "source": AGENT, "system_prompt": _text(text), "tools": tools,
            "kind": "SystemPromptEvent"}  # fmt: skip


def call_id(call_no: int) -> str:
    return f"call_loadtest{call_no:012x}"


def response_id(call_no: int) -> str:
    return f"chatcmpl-loadtest{call_no:08x}"


def action_event(
    eid: str, ts: str, parent_id: str, tool: str, call_no: int, action: dict[str, object], thought: str = ""
) -> Event:
    """An `ActionEvent`: the agent calls `tool` with `action`'s fields (its `kind` names the action class)."""
    arguments = {k: v for k, v in action.items() if k != "kind"}
    args_json = json.dumps(arguments)
    cid = call_id(call_no)
    return {
        "id": eid, "timestamp": ts, "source": AGENT, "parent_id": parent_id,
        "thought": [_text(thought)] if thought else [], "thinking_blocks": [], "action": action,
        "tool_name": tool, "tool_call_id": cid,
        "tool_call": {"id": cid, "name": tool, "arguments": args_json, "origin": "completion"},
        "llm_response_id": response_id(call_no), "security_risk": "UNKNOWN",
        "summary": f"{tool}: {args_json[:200]}", "kind": "ActionEvent",
    }  # fmt: skip


def observation_event(
    eid: str, ts: str, action_id: str, tool: str, call_no: int, observation: dict[str, object]
) -> Event:
    return {
        "id": eid, "timestamp": ts, "source": ENVIRONMENT, "parent_id": action_id, "tool_name": tool,
        "tool_call_id": call_id(call_no), "observation": observation, "action_id": action_id,
        "extended_content": [], "kind": "ObservationEvent",
    }  # fmt: skip


def observation_body(kind: str, text: str, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"content": [_text(text)], "is_error": False}
    body.update(extra)
    body["kind"] = kind
    return body


def conversation_error_event(eid: str, ts: str, parent_id: str | None, code: str, detail: str) -> Event:
    event: Event = {"id": eid, "timestamp": ts, "source": ENVIRONMENT}
    if parent_id is not None:
        event["parent_id"] = parent_id
    classification = {"kind": "transient", "retryable": True, "user_action": "retry"}
    event.update({"code": code, "detail": detail, "classification": classification, "kind": "ConversationErrorEvent"})
    return event


def server_error_event(eid: str, ts: str, code: str, detail: str) -> Event:
    """A socket-only `ServerErrorEvent` (never stored)."""
    return {"id": eid, "timestamp": ts, "source": ENVIRONMENT, "code": code, "detail": detail,
            "kind": "ServerErrorEvent"}  # fmt: skip


def streaming_delta_event(eid: str, ts: str, content: str) -> Event:
    """A socket-only `StreamingDeltaEvent` (never stored, its own id, no link to the ActionEvent it builds)."""
    return {"id": eid, "timestamp": ts, "source": AGENT, "content": content, "kind": "StreamingDeltaEvent"}


def usage(calls: int) -> dict[str, object]:
    """`accumulated_token_usage` after `calls` LLM calls."""
    prompt = 340 + 3900 * max(calls - 1, 0) if calls else 0
    return {"model": MODEL, "prompt_tokens": prompt, "completion_tokens": 11 * calls, "cache_read_tokens": 0,
            "cache_write_tokens": 0, "reasoning_tokens": 0, "context_window": 0,
            "per_turn_token": 3908 if calls > 1 else 345 * calls, "response_id": ""}  # fmt: skip


def stats_value(calls: int) -> dict[str, object]:
    """The `stats` state update's value (what a live `stats` event carries)."""
    if calls == 0:
        return {"usage_to_metrics": {}}
    metrics = {"model_name": MODEL, "accumulated_cost": 0.0, "max_budget_per_task": None,
               "accumulated_token_usage": usage(calls)}  # fmt: skip
    return {"usage_to_metrics": {"default": metrics}}


def full_stats(calls: int) -> dict[str, object]:
    """The `stats` inside `full_state`: grows by one latency and one usage entry per LLM call (~340 B)."""
    if calls == 0:
        return {"usage_to_metrics": {}}
    latencies = [{"model": MODEL, "latency": 0.012, "response_id": response_id(n)} for n in range(1, calls + 1)]
    usages = [{**usage(1), "response_id": response_id(n)} for n in range(1, calls + 1)]
    metrics = {"model_name": MODEL, "accumulated_cost": 0.0, "accumulated_token_usage": usage(calls), "costs": [],
               "response_latencies": latencies, "token_usages": usages}  # fmt: skip
    return {"usage_to_metrics": {"default": metrics}}
