"""Request bodies shaped like the ones OpenHands 1.6.0 (CodeActAgent, litellm -> openai) sends.

The tool schemas are those of openhands/agenthub/codeact_agent/tools/{finish,bash}.py in openhands-ai 1.6.0
(descriptions shortened); `OLD_FINISH` is the pre-1.0 finish tool with `task_completed`.
"""

from __future__ import annotations

from typing import Any

FINISH: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "finish",
        "description": "Signals the completion of the current task or conversation.",
        "parameters": {
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"type": "string", "description": "Final message to send to the user"}},
        },
    },
}

OLD_FINISH: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "finish",
        "description": "Finish the interaction.",
        "parameters": {
            "type": "object",
            "required": ["message", "task_completed"],
            "properties": {
                "message": {"type": "string"},
                "task_completed": {"type": "string", "enum": ["true", "false", "partial"]},
            },
        },
    },
}

EXECUTE_BASH: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "execute_bash",
        "description": "Execute a bash command in the terminal.",
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The bash command to execute."},
                "is_input": {"type": "string", "enum": ["true", "false"]},
                "timeout": {"type": "number"},
                "security_risk": {"type": "string", "enum": ["LOW", "MEDIUM", "HIGH"]},
            },
            "required": ["command", "security_risk"],
        },
    },
}

THINK: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "think",
        "parameters": {"type": "object", "properties": {"thought": {"type": "string"}}, "required": ["thought"]},
    },
}

SYSTEM = {"role": "system", "content": "You are OpenHands agent, a helpful AI assistant."}
USER = {"role": "user", "content": [{"type": "text", "text": "hello"}]}


def after_bash(call_id: str = "call_1") -> list[dict[str, Any]]:
    """The messages of a turn's second call: user, the assistant's execute_bash call, the tool result."""
    call = {"id": call_id, "type": "function", "function": {"name": "execute_bash", "arguments": "{}"}}
    return [
        SYSTEM,
        USER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call_id, "name": "execute_bash", "content": "hello\n[exit code 0]"},
    ]


def agent_body(
    *, messages: list[dict[str, Any]] | None = None, stream: bool = False, tools: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A CodeActAgent step request (tools offered, tool_choice auto)."""
    body: dict[str, Any] = {
        "model": "mock-model",
        "messages": messages if messages is not None else [SYSTEM, USER],
        "tools": tools if tools is not None else [EXECUTE_BASH, THINK, FINISH],
        "tool_choice": "auto",
        "temperature": 0.0,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def title_body() -> dict[str, Any]:
    """OpenHands' title-generation request: no tools."""
    return {
        "model": "mock-model",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant that generates concise, descriptive titles."},
            {"role": "user", "content": "Generate a title (maximum 50 characters) for: hello"},
        ],
    }
