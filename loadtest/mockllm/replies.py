"""Chat-completion replies: parse a request, choose what to answer, build OpenAI-shaped JSON. No I/O.

The choice, for OpenHands' CodeActAgent (native tool calling):

- the request offers `execute_bash`, bash is enabled and this is the first call of the turn (no assistant or
  tool message since the last user message) -> an `execute_bash` tool call with a harmless command;
- else the request offers `finish` -> a `finish` tool call, which ends the agent's turn;
- else (title generation, condensation, plain chat) -> a text reply.

Tool arguments follow the schema the request carries: known fields are filled, unknown required ones get a
neutral value (the first enum member, "", 0, false), and fields the schema does not list are dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from loadtest.errors import LoadtestError
from loadtest.mockllm.settings import MockSettings

FINISH = "finish"
EXECUTE_BASH = "execute_bash"
TOKEN_CHARS = 4
"""A completion 'token' is up to this many characters (an estimate, like OpenAI's ~4 chars per token)."""

_PAD_WORDS = ("lorem", "ipsum", "dolor", "sit", "amet")


class BadRequest(LoadtestError, ValueError):
    """The request body is not a chat-completion request; the message says what is wrong."""


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat-completion request the mock looks at."""

    model: str
    messages: tuple[Mapping[str, object], ...]
    tools: Mapping[str, Mapping[str, object]]
    """Offered function tools: name -> JSON schema of the parameters."""
    stream: bool = False
    include_usage: bool = False


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str
    """JSON text, as OpenAI sends it."""
    call_id: str


@dataclass(frozen=True)
class Reply:
    """What to answer: `kind` is `finish`, `execute_bash` or `text` (the stats key)."""

    kind: str
    content: str | None
    tool_call: ToolCall | None = None
    prompt_tokens: int = 0
    completion_tokens: int = field(default=0)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_call is not None else "stop"


def parse_request(body: object) -> ChatRequest:
    """Validate the decoded JSON body of `POST /v1/chat/completions`."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise BadRequest("'messages' must be a non-empty list of objects")
    tools: dict[str, Mapping[str, object]] = {}
    for tool in body.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            params = fn.get("parameters")
            tools[fn["name"]] = params if isinstance(params, dict) else {}
    options = body.get("stream_options")
    return ChatRequest(
        model=str(body.get("model") or ""),
        messages=tuple(messages),
        tools=tools,
        stream=bool(body.get("stream", False)),
        include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
    )


def first_call_of_turn(messages: tuple[Mapping[str, object], ...]) -> bool:
    """True when no assistant or tool message follows the last user message."""
    for message in reversed(messages):
        role = message.get("role")
        if role == "user":
            return True
        if role in ("assistant", "tool", "function"):
            return False
    return True


def fill_arguments(schema: Mapping[str, object], wanted: Mapping[str, object]) -> dict[str, object]:
    """Arguments for a tool with JSON-schema `schema`: `wanted` values it lists, plus neutral required ones."""
    props = schema.get("properties")
    if not isinstance(props, dict) or not props:
        return dict(wanted)
    out = {k: v for k, v in wanted.items() if k in props}
    required = schema.get("required") or []
    for name in required if isinstance(required, Iterable) else ():
        if name not in out and name in props:
            out[name] = _neutral(props[name])
    return out


def _neutral(prop: object) -> object:
    if not isinstance(prop, dict):
        return ""
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = prop.get("type")
    return {"number": 0, "integer": 0, "boolean": False, "array": [], "object": {}}.get(
        kind if isinstance(kind, str) else "", ""
    )


def reply_text(settings: MockSettings) -> str:
    """The configured message plus `pad_tokens` filler words."""
    pad = " ".join(_PAD_WORDS[i % len(_PAD_WORDS)] for i in range(settings.pad_tokens))
    return f"{settings.message} {pad}" if pad else settings.message


def choose_reply(request: ChatRequest, settings: MockSettings, call_number: int) -> Reply:
    """What to answer to `request`; `call_number` makes ids unique."""
    prompt_tokens = count_tokens(json.dumps(request.messages, separators=(",", ":"), default=str))
    call_id = f"call_mock{call_number:016x}"
    tool: ToolCall | None = None
    if settings.bash and EXECUTE_BASH in request.tools and first_call_of_turn(request.messages):
        wanted = {"command": settings.bash_command, "is_input": "false", "security_risk": "LOW"}
        args = fill_arguments(request.tools[EXECUTE_BASH], wanted)
        args["command"] = settings.bash_command
        tool = ToolCall(EXECUTE_BASH, json.dumps(args), call_id)
    elif FINISH in request.tools:
        wanted = {"message": reply_text(settings), "task_completed": "true"}
        tool = ToolCall(FINISH, json.dumps(fill_arguments(request.tools[FINISH], wanted)), call_id)
    if tool is None:
        text = reply_text(settings)
        return Reply("text", text, None, prompt_tokens, count_tokens(text))
    return Reply(tool.name, None, tool, prompt_tokens, count_tokens(tool.arguments) + 1)


def split_tokens(text: str) -> list[str]:
    """`text` cut into pieces of up to TOKEN_CHARS characters ('tokens'); "" gives []."""
    return [text[i : i + TOKEN_CHARS] for i in range(0, len(text), TOKEN_CHARS)]


def count_tokens(text: str) -> int:
    return -(-len(text) // TOKEN_CHARS)


def usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def completion(reply: Reply, *, model: str, response_id: str, created: int) -> dict[str, object]:
    """A non-streaming `chat.completion` object."""
    message: dict[str, object] = {"role": "assistant", "content": reply.content}
    if reply.tool_call is not None:
        call = reply.tool_call
        message["tool_calls"] = [
            {"id": call.call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
        ]
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
        "usage": usage(reply),
        "system_fingerprint": "fp_mock",
    }


def stream_chunks(
    reply: Reply, *, model: str, response_id: str, created: int
) -> Iterator[tuple[dict[str, object], int]]:
    """`chat.completion.chunk` objects in OpenAI's order, each with the number of tokens it carries.

    Role first, then content deltas, then for a tool call one delta with id, type, name and empty arguments
    followed by argument fragments (index 0 only), then the finish reason, then (when asked) usage.
    """

    def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
        return {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": "" if reply.tool_call is None else None}), 0
    for piece in split_tokens(reply.content or ""):
        yield chunk({"content": piece}), 1
    call = reply.tool_call
    if call is not None:
        head = {"index": 0, "id": call.call_id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        yield chunk({"tool_calls": [head]}), 1
        for piece in split_tokens(call.arguments):
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), 1
    yield chunk({}, reply.finish_reason), 0


def usage_chunk(reply: Reply, *, model: str, response_id: str, created: int) -> dict[str, object]:
    """The final chunk sent when the request has `stream_options.include_usage`."""
    return {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [],
        "usage": usage(reply),
    }


def sse(data: Mapping[str, object] | str) -> bytes:
    """One server-sent event line pair: `data: <json>\\n\\n` (or the literal `[DONE]`)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


_SAFE_ID = re.compile(r"[^A-Za-z0-9_.:/-]")


def echo_model(requested: str, default: str) -> str:
    """The model name to answer with: the requested one (sanitised), else the default."""
    cleaned = _SAFE_ID.sub("", requested)[:100]
    return cleaned or default
