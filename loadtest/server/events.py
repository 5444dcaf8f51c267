"""OpenHands V0 event payloads (protocol doc §5), built as plain dicts. Pure: no I/O, no clock, no globals.

A builder returns a `Draft`: everything but `id` and `timestamp`, which the conversation log assigns when it
stores the event (`store.ConversationLog.append`). `Draft.cause` refers to another event of the same turn
plan by position (resolved to an id by the agent loop), so plans stay plain data.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass

AGENT, USER, ENVIRONMENT = "agent", "user", "environment"
MODEL = "gpt-4o-2024-08-06"
PROVIDERS: frozenset[str] = frozenset({"github", "gitlab", "bitbucket", "azure_devops", "enterprise_sso"})
#: Action types OpenHands' `event_from_dict` accepts (protocol doc §4).
ACTION_TYPES: frozenset[str] = frozenset(
    {
        "message", "system", "read", "write", "edit", "run", "run_ipython", "browse", "browse_interactive",
        "call_tool_mcp", "delegate", "think", "finish", "reject", "null", "change_agent_state", "recall",
        "condensation", "condensation_request", "task_tracking", "loop_recovery",
    }
)  # fmt: skip
AGENT_STATES: frozenset[str] = frozenset(
    {
        "loading", "running", "awaiting_user_input", "paused", "stopped", "finished", "rejected", "error",
        "awaiting_user_confirmation", "user_confirmed", "user_rejected", "rate_limited",
    }
)  # fmt: skip
#: Environment-sourced observations that OpenHands sends live (with source rewritten to "agent").
LIVE_ENV_OBSERVATIONS: frozenset[str] = frozenset({"run", "agent_state_changed", "recall", "error"})
#: An event body or payload as JSON: built here, serialized once by the store (values are JSON values).
JsonObject = dict[str, object]
TOO_MANY_CONVERSATIONS = (
    "Too many conversations at once. If you are still using this one, "
    "try reactivating it by prompting the agent to continue"
)


@dataclass(frozen=True, slots=True)
class Draft:
    """An event before it is stored: source, message, then the remaining keys in OpenHands' order."""

    source: str
    message: str
    body: JsonObject
    cause: int | None = None  # position of the causing draft in the same plan; -1 = the user's message

    @property
    def hidden_live(self) -> bool:
        return not is_live_visible(self.source, self.body)


def is_null(body: Mapping[str, object]) -> bool:
    return body.get("observation") == "null" or body.get("action") == "null"


def is_live_visible(source: str, body: Mapping[str, object]) -> bool:
    """OpenHands' `WebSession._on_event` rule: Null dropped; env-sourced only for four observation types."""
    if is_null(body):
        return False
    if source != ENVIRONMENT:
        return True
    return body.get("observation") in LIVE_ENV_OBSERVATIONS


def llm_metrics(calls: int) -> JsonObject:
    """`llm_metrics` after `calls` LLM calls in the conversation (lists emptied, as OpenHands sends them)."""
    prompt = 6000 + 900 * calls
    return {
        "accumulated_cost": round(0.0021 * calls + prompt * 2.5e-6, 6),
        "max_budget_per_task": None,
        "accumulated_token_usage": {
            "model": MODEL,
            "prompt_tokens": prompt * calls,
            "completion_tokens": 95 * calls,
            "cache_read_tokens": 4096 * max(calls - 1, 0),
            "cache_write_tokens": 0,
            "context_window": 128000,
            "per_turn_token": prompt + 95,
            "response_id": "",
        },
        "costs": [],
        "response_latencies": [],
        "token_usages": [],
    }


def tool_call_metadata(function_name: str, arguments: Mapping[str, object], call_no: int, thought: str) -> JsonObject:
    """A litellm `ModelResponse` dump like the one OpenHands attaches to tool calls (the bulk of event sizes)."""
    call_id = f"call_{call_no:04d}{'x' * 20}"
    return {
        "function_name": function_name,
        "tool_call_id": call_id,
        "model_response": {
            "id": f"chatcmpl-{call_no:08d}{'A' * 21}",
            "created": 1764331200 + call_no,
            "model": MODEL,
            "object": "chat.completion",
            "system_fingerprint": "fp_7f6be3efb0",
            "choices": [
                {
                    "finish_reason": "tool_calls",
                    "index": 0,
                    "message": {
                        "content": thought,
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "index": 1,
                                "function": {"arguments": json.dumps(arguments), "name": function_name},
                                "id": call_id,
                                "type": "function",
                            }
                        ],
                        "function_call": None,
                    },
                }
            ],
            "usage": {
                "completion_tokens": 95,
                "prompt_tokens": 6000 + 900 * call_no,
                "total_tokens": 6095 + 900 * call_no,
                "completion_tokens_details": {
                    "accepted_prediction_tokens": 0,
                    "audio_tokens": 0,
                    "reasoning_tokens": 0,
                },
                "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 4096},
            },
            "service_tier": "default",
        },
        "total_calls_in_response": 1,
    }


def agent_state_of(body: Mapping[str, object]) -> str:
    """The state an `agent_state_changed` observation announces ("" when it names none)."""
    extras = body.get("extras")
    return str(extras.get("agent_state", "")) if isinstance(extras, Mapping) else ""


def filler_text(rng: random.Random, size: int) -> str:
    """`size` characters of `ls -l`-like output, deterministic for a given generator state."""
    lines: list[str] = []
    total = 0
    while total < size:
        size_, minute, n = rng.randint(100, 99999), rng.randint(0, 59), rng.randint(0, 999)
        line = f"-rw-r--r-- 1 root root {size_:>5} Nov 28 12:{minute:02d} file_{n:03d}.py"
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)[:size]


# --- user / environment events --------------------------------------------------------------------------


def user_message(content: str, image_urls: object = None, file_urls: object = None) -> Draft:
    """The user's message as stored; the URL lists are kept as the client sent them (None when absent)."""
    args = {
        "content": content,
        "file_urls": file_urls,
        "image_urls": image_urls,
        "wait_for_response": False,
        "security_risk": -1,
    }
    return Draft(USER, content, {"action": "message", "args": args})


def user_action(action: str, args: Mapping[str, object]) -> Draft:
    """Any other registered action a user sends (terminal `run`, `change_agent_state`, ...), stored as given."""
    clean: JsonObject = {k: v for k, v in args.items() if k != "timestamp"}
    if action == "run":
        message = f"Running command: {clean.get('command', '')}"
    elif action == "change_agent_state":
        message = f"Agent state changed to {clean.get('agent_state', '')}"
    else:
        message = str(clean.get("content", clean.get("thought", "")))
    clean.setdefault("security_risk", -1)
    return Draft(USER, message, {"action": action, "args": clean})


def recall_action(query: str, first: bool) -> Draft:
    recall_type = "workspace_context" if first else "knowledge"
    args = {"recall_type": recall_type, "query": query, "thought": ""}
    return Draft(USER, f"Retrieving content for: {query[:50]}", {"action": "recall", "args": args})


def recall_observation(cause: int) -> Draft:
    extras = {
        "recall_type": "workspace_context",
        "repo_name": "",
        "repo_directory": "",
        "repo_branch": "",
        "repo_instructions": "",
        "runtime_hosts": {"http://localhost:52000": 52000, "http://localhost:58000": 58000},
        "additional_agent_instructions": "",
        "date": "2025-11-28",
        "custom_secrets_descriptions": {},
        "conversation_instructions": "",
        "working_dir": "/workspace",
        "microagent_knowledge": [],
    }
    body: JsonObject = {"observation": "recall", "content": "Added workspace context", "extras": extras}
    return Draft(ENVIRONMENT, "Added workspace context", body, cause)


def null_observation(cause: int) -> Draft:
    return Draft(ENVIRONMENT, "No observation", {"observation": "null", "content": "", "extras": {}}, cause)


def agent_state(state: str, reason: str = "") -> Draft:
    body: JsonObject = {
        "observation": "agent_state_changed",
        "content": "",
        "extras": {"agent_state": state, "reason": reason},
    }
    return Draft(ENVIRONMENT, "", body)


def change_agent_state(state: str) -> Draft:
    body: JsonObject = {"action": "change_agent_state", "args": {"agent_state": state, "thought": ""}}
    return Draft(ENVIRONMENT, f"Agent state changed to {state}", body)


def error_observation(content: str, error_id: str) -> Draft:
    return Draft(ENVIRONMENT, content, {"observation": "error", "content": content, "extras": {"error_id": error_id}})


def system_message() -> Draft:
    tools = [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": f"{name}: " + "Use this tool to act on the workspace. " * 12,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "command": {"type": "string", "description": "The command or sub-command to run."},
                        "path": {"type": "string", "description": "Absolute path to a file or directory."},
                        "thought": {"type": "string", "description": "Why this call is made."},
                    },
                    "required": ["command"],
                },
            },
        }
        for name in ("execute_bash", "think", "finish", "execute_ipython_cell", "str_replace_editor", "browser")
    ]
    content = "You are OpenHands agent, a helpful AI assistant that can interact with a computer. " * 40
    args = {"content": content, "tools": tools, "openhands_version": "0.62.0", "agent_class": "CodeActAgent"}
    return Draft(AGENT, content, {"action": "system", "args": args})


def status_update(status_id: str, message: str, kind: str = "info") -> JsonObject:
    """An id-less status payload (never stored)."""
    return {"status_update": True, "type": kind, "id": status_id, "message": message}


def stopped_broadcast() -> JsonObject:
    """The id-less `stopped` state OpenHands broadcasts when it closes a conversation's session."""
    extras = {"agent_state": "stopped", "reason": ""}
    return {"message": "", "observation": "agent_state_changed", "content": "", "extras": extras}


def title_update(conversation_id: str, title: str) -> JsonObject:
    """The id-less payload OpenHands sends when it has named a conversation after its first message."""
    return {"status_update": True, "type": "info", "message": conversation_id, "conversation_title": title}


def error_payload(message: str) -> JsonObject:
    """An id-less session error payload (never stored), e.g. the image-upload refusal."""
    return {"error": True, "message": message}


# --- agent events ----------------------------------------------------------------------------------------


def _agent_action(action: str, message: str, args: Mapping[str, object], calls: int, tool: str, meta: bool) -> Draft:
    body: JsonObject = {"action": action}
    if meta:
        body["tool_call_metadata"] = tool_call_metadata(tool, args, calls, str(args.get("thought", "")))
    body["llm_metrics"] = llm_metrics(calls)
    body["args"] = args
    return Draft(AGENT, message, body)


def _agent_observation(
    observation: str, message: str, content: str, extras: Mapping[str, object], cause: int, meta: object
) -> Draft:
    body: JsonObject = {"observation": observation}
    if meta is not None:
        body["tool_call_metadata"] = meta
    body["content"] = content
    body["extras"] = extras
    return Draft(AGENT, message, body, cause)


def run_pair(rng: random.Random, calls: int, at: int, output_bytes: int, meta: bool) -> tuple[Draft, Draft]:
    command = rng.choice(("ls -l", "pytest -q", "git status", "cat setup.cfg", "python -m build"))
    args = {
        "command": command,
        "is_input": False,
        "thought": f"Let me run `{command}` to see where we are.",
        "blocking": False,
        "is_static": False,
        "cwd": None,
        "hidden": False,
        "confirmation_state": "confirmed",
        "security_risk": -1,
    }
    action = _agent_action("run", f"Running command: {command}", args, calls, "execute_bash", meta)
    extras = {
        "command": command,
        "metadata": {
            "exit_code": 0,
            "pid": -1,
            "username": "root",
            "hostname": "sandbox",
            "working_dir": "/workspace",
            "py_interpreter_path": "/usr/bin/python",
            "prefix": "",
            "suffix": "\n[The command completed with exit code 0.]",
        },
        "hidden": False,
    }
    obs = _agent_observation(
        "run",
        f"Command `{command}` executed with exit code 0.",
        filler_text(rng, output_bytes),
        extras,
        at,
        action.body.get("tool_call_metadata"),
    )
    obs.body["success"] = True
    return action, obs


def edit_pair(rng: random.Random, calls: int, at: int, meta: bool) -> tuple[Draft, Draft]:
    path = f"/workspace/module_{rng.randint(0, 99):02d}.py"
    old, new = "return a + b", "return a + b  # checked"
    args = {
        "path": path,
        "command": "str_replace",
        "file_text": None,
        "old_str": old,
        "new_str": new,
        "insert_line": None,
        "content": "",
        "start": 1,
        "end": -1,
        "thought": "Apply the fix.",
        "security_risk": -1,
        "impl_source": "oh_aci",
    }
    action = _agent_action("edit", "", args, calls, "str_replace_editor", meta)
    diff = f"--- {path}\n+++ {path}\n@@ -1,3 +1,3 @@\n def add(a, b):\n-    {old}\n+    {new}\n"
    extras = {
        "path": path,
        "prev_exist": True,
        "old_content": f"def add(a, b):\n    {old}\n",
        "new_content": f"def add(a, b):\n    {new}\n",
        "impl_source": "oh_aci",
        "diff": None,
        "_diff_cache": None,
    }
    obs = _agent_observation(
        "edit", f"I edited the file {path}.", diff, extras, at, action.body.get("tool_call_metadata")
    )
    return action, obs


def write_pair(rng: random.Random, calls: int, at: int, meta: bool) -> tuple[Draft, Draft]:
    path = f"/workspace/notes_{rng.randint(0, 99):02d}.txt"
    content = filler_text(rng, 200)
    args = {"path": path, "content": content, "start": 0, "end": -1, "thought": "", "security_risk": -1}
    action = _agent_action("write", f"Writing file: {path}", args, calls, "str_replace_editor", meta)
    obs = _agent_observation(
        "write", f"I wrote to the file {path}.", "", {"path": path}, at, action.body.get("tool_call_metadata")
    )
    return action, obs


def read_pair(rng: random.Random, calls: int, at: int, output_bytes: int, meta: bool) -> tuple[Draft, Draft]:
    path = f"/workspace/module_{rng.randint(0, 99):02d}.py"
    args = {
        "path": path,
        "start": 0,
        "end": -1,
        "thought": "",
        "security_risk": -1,
        "impl_source": "oh_aci",
        "view_range": None,
    }
    action = _agent_action("read", f"Reading file: {path}", args, calls, "str_replace_editor", meta)
    obs = _agent_observation(
        "read",
        f"I read the file {path}.",
        filler_text(rng, output_bytes),
        {"path": path, "impl_source": "oh_aci"},
        at,
        action.body.get("tool_call_metadata"),
    )
    return action, obs


def think_pair(calls: int, at: int, meta: bool) -> tuple[Draft, Draft]:
    thought = "The failing test points at the adder; check the edge cases before editing."
    action = _agent_action("think", thought, {"thought": thought}, calls, "think", meta)
    note = "Your thought has been logged."
    obs = _agent_observation("think", note, note, {}, at, action.body.get("tool_call_metadata"))
    return action, obs


def agent_message(content: str, calls: int) -> Draft:
    args = {"content": content, "file_urls": None, "image_urls": None, "wait_for_response": True, "security_risk": -1}
    return Draft(AGENT, content, {"action": "message", "llm_metrics": llm_metrics(calls), "args": args})


def finish(calls: int, meta: bool) -> Draft:
    thought = "The task is complete: the change is made and the tests pass."
    args = {"final_thought": thought, "outputs": {}, "thought": ""}
    return _agent_action("finish", thought, args, calls, "finish", meta)
