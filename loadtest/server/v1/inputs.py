"""What V1 clients send, validated as pure functions: create bodies, messages, socket frames, query values.

Each parser returns the parsed value or the error the real server answers with (422 detail lists in
FastAPI's shape, ServerErrorEvent codes, or `None` where the real server refuses the upgrade with 403).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from loadtest.server.v1.events import timestamp

Detail = list[dict[str, object]]
REDACTED = "<redacted>"
SECRET_KEYS = frozenset({"api_key", "aws_secret_access_key", "aws_session_token"})


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """A valid `POST /api/conversations` body, secrets redacted."""

    conversation_id: str | None
    llm: dict[str, object]
    workspace: dict[str, object]
    tools: list[object] = field(default_factory=list)
    stream: bool = False
    autotitle: bool = True
    initial_message: str | None = None


def parse_uuid(text: str) -> str | None:
    """A conversation id as the server prints it (lower case with dashes), or None when malformed."""
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        return None


def redact(value: object) -> object:
    """A copy of `value` with every secret-looking key's value replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_KEYS and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _value_error(loc: list[str], message: str, given: object) -> Detail:
    return [{"type": "value_error", "loc": loc, "msg": f"Value error, {message}", "input": redact(given),
             "ctx": {"error": message}}]  # fmt: skip


def message_text(message: object) -> str | None:
    """The text of a user `Message` (`role` + `content` list of text parts, or a string), None if not one."""
    if not isinstance(message, dict) or message.get("role") not in ("user", "system", "assistant", "tool"):
        return None
    content = message.get("content", [])
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    parts: list[str] = []
    for part in content:
        if not isinstance(part, dict):
            return None
        text = part.get("text")
        if isinstance(text, str):
            parts.append(text)
    return "\n".join(parts)


def parse_create(body: object) -> CreateRequest | Detail:
    """The create request, or FastAPI's 422 `detail` list in the shapes the real server sends."""
    if not isinstance(body, dict):
        return [{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary",
                 "input": redact(body)}]  # fmt: skip
    agent = body.get("agent")
    if agent is None and body.get("agent_settings") is None and body.get("agent_profile_id") is None:
        return _value_error(["body"], "One of `agent`, `agent_settings`, or `agent_profile_id` must be provided", body)
    settings = agent if isinstance(agent, dict) else body.get("agent_settings")
    llm = settings.get("llm") if isinstance(settings, dict) else None
    if not isinstance(llm, dict) or not isinstance(llm.get("model"), str) or not llm.get("model"):
        return _value_error(["body", "agent", "llm"], "model must be specified in LLM", llm)
    workspace = body.get("workspace")
    if not isinstance(workspace, dict):
        given = {k: v for k, v in body.items() if k != "workspace"}
        return [{"type": "missing", "loc": ["body", "workspace"], "msg": "Field required", "input": redact(given)}]
    cid_raw = body.get("conversation_id")
    cid = parse_uuid(cid_raw) if isinstance(cid_raw, str) else None
    if cid_raw is not None and cid is None:
        return [{"type": "uuid_parsing", "loc": ["body", "conversation_id"], "msg": "Input should be a valid UUID",
                 "input": cid_raw}]  # fmt: skip
    initial = body.get("initial_message")
    initial_text = message_text(initial) if initial is not None else None
    if initial is not None and initial_text is None:
        return [{"type": "missing", "loc": ["body", "initial_message", "role"], "msg": "Field required",
                 "input": redact(initial)}]  # fmt: skip
    tools = settings.get("tools", []) if isinstance(settings, dict) else []
    clean_llm = redact(llm)
    assert isinstance(clean_llm, dict)
    return CreateRequest(
        conversation_id=cid,
        llm=clean_llm,
        workspace=dict(workspace),
        tools=list(tools) if isinstance(tools, list) else [],
        stream=llm.get("stream") is True,
        autotitle=body.get("autotitle", True) is not False,
        initial_message=initial_text,
    )


def parse_send(body: object) -> tuple[str, bool] | Detail:
    """`POST …/events`: (text, run) from a Message body whose `run` defaults to false, or a 422 detail."""
    text = message_text(body)
    if text is None or not isinstance(body, dict):
        return [{"type": "missing", "loc": ["body", "role"], "msg": "Field required", "input": redact(body)}]
    run = body.get("run", False)
    if not isinstance(run, bool):
        return [{"type": "bool_parsing", "loc": ["body", "run"], "msg": "Input should be a valid boolean",
                 "input": run}]  # fmt: skip
    return text, run


@dataclass(frozen=True, slots=True)
class AuthFrame:
    key: str | None


@dataclass(frozen=True, slots=True)
class MessageFrame:
    text: str


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame the socket answers with a `ServerErrorEvent` (and stays open)."""

    code: str  # ValidationError | JSONDecodeError
    detail: str


ClientFrame = AuthFrame | MessageFrame | BadFrame


def parse_frame(text: str) -> ClientFrame:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return BadFrame("JSONDecodeError", str(exc))
    if isinstance(data, dict) and data.get("type") == "auth":
        key = data.get("session_api_key")
        return AuthFrame(key if isinstance(key, str) else None)
    found = message_text(data)
    if found is not None:
        return MessageFrame(found)
    shown = repr(data)[:200]
    kind = type(data).__name__
    detail = (
        f"1 validation error for Message\nrole\n  Field required [type=missing, input_value={shown}, input_type={kind}]"
    )
    return BadFrame("ValidationError", detail)


def normalize_timestamp(text: str) -> str | None:
    """An `after_timestamp` as a comparable server timestamp string, or None when unparsable.

    A zone-less value is taken as is; a zoned one (`Z`, `+00:00`, `%2B02:00` decoded) is converted to server
    local time, as the real server does.
    """
    raw = text.strip()
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except ValueError:
        return None
    if at.tzinfo is not None:
        at = at.astimezone()
    return timestamp(at)


@dataclass(frozen=True, slots=True)
class Resend:
    """What the events socket replays after its snapshot: nothing, everything, or events at/after `since`."""

    mode: str  # none | all | since
    since: str | None = None


def parse_resend(mode: str | None, after: str | None, resend_all: str | None) -> Resend | None:
    """The replay asked for, or None for what the real server refuses with HTTP 403."""
    if mode is None:
        return Resend("all") if (resend_all or "").lower() == "true" else Resend("none")
    if mode == "all":
        return Resend("all")
    if mode != "since":
        return None
    if after is None or after == "":
        return Resend("since", None)  # since without a timestamp replays nothing
    since = normalize_timestamp(after)
    return None if since is None else Resend("since", since)


def parse_after_seq(text: str | None) -> int | None:
    """`after_seq`: None when absent, else the integer (>= -1); `ValueError` when malformed (HTTP 403)."""
    if text is None:
        return None
    value = int(text)
    if value < -1:
        raise ValueError(f"after_seq must be >= -1, not {value}")
    return value
