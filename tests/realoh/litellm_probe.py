"""Run with OpenHands' own Python 3.12 venv: call the mock LLM through litellm and the openai SDK.

Usage: <venv>/bin/python litellm_probe.py <mock-llm-base-url>. Prints one JSON object. It imports only
what openhands-ai 1.6.0 installs (litellm, openai), never our package.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import litellm
import openai

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "finish",
            "parameters": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "execute_bash",
            "parameters": {
                "type": "object",
                "required": ["command", "security_risk"],
                "properties": {
                    "command": {"type": "string"},
                    "security_risk": {"type": "string", "enum": ["LOW", "MEDIUM", "HIGH"]},
                },
            },
        },
    },
]
FIRST = [{"role": "user", "content": "hi"}]
SECOND = [
    *FIRST,
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "execute_bash", "arguments": "{}"}}],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "hi"},
]


def main(base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    common = {"model": "openai/mock-model", "api_base": f"{base}/v1", "api_key": "sk-mock", "tools": TOOLS}
    plain = litellm.completion(messages=FIRST, **common)
    call = plain.choices[0].message.tool_calls[0]
    out["litellm"] = [call.function.name, json.loads(call.function.arguments)]
    chunks = list(litellm.completion(messages=FIRST, stream=True, stream_options={"include_usage": True}, **common))
    built = litellm.stream_chunk_builder(chunks, messages=FIRST)
    call = built.choices[0].message.tool_calls[0]
    out["litellm_stream"] = [call.function.name, json.loads(call.function.arguments), built.usage.completion_tokens]
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-mock", max_retries=0)
    name, args = None, ""
    for chunk in client.chat.completions.create(model="mock-model", messages=SECOND, tools=TOOLS, stream=True):
        for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            name = name or delta.function.name
            args += delta.function.arguments or ""
    out["openai_stream"] = [name, json.loads(args)]
    try:
        client.chat.completions.create(model="mock-model", messages=FIRST, tools=TOOLS)
        out["openai_429"] = None
    except openai.RateLimitError as exc:
        out["openai_429"] = [exc.status_code, exc.response.headers.get("retry-after")]
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
