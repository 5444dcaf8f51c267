"""V1 client frames, REST paths and bodies, agent settings, and the redaction of secrets (pure).

Shapes from ``../shared/openhands-v1.md`` §3–4: the auth frame, a user ``Message`` (socket frame, or REST body
with ``run``), the create body (``agent`` + ``workspace``), ``POST …/run`` (no body).

Secrets (the LLM ``api_key``, AWS keys, headers, the session key) never leave through our output: every body
or settings object logged, reported or put in an error goes through `redact` first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from loadtest.errors import LoadtestError
from loadtest.ws.json import dumps

__all__ = [
    "REDACTED",
    "AgentSettingsError",
    "auth_frame",
    "conversation_path",
    "create_body",
    "events_path",
    "message_frame",
    "parse_agent_settings",
    "redact",
    "run_path",
    "search_path",
    "secret_values",
    "send_body",
    "socket_path",
    "user_message",
]

REDACTED = "<redacted>"

CREATE_PATH = "/api/conversations"

# Keys whose string (or object) values are secrets, compared lower-case.
_SECRET_KEYS = frozenset(
    {
        "api_key",
        "session_api_key",
        "x-session-api-key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "authorization",
        "cookie",
        "extra_headers",
        "headers",
        "password",
        "token",
        "access_token",
        "refresh_token",
    }
)
_SECRET_PARTS = ("secret", "password", "api_key", "apikey")
_SECRET_SUFFIXES = ("_token", "_key")


class AgentSettingsError(LoadtestError, ValueError):
    """``--agent-settings`` is not usable; the message names the cause and the fix (never the value)."""

    def __repr__(self) -> str:
        return "AgentSettingsError()"


def _secret_key(key: str) -> bool:
    k = key.lower()
    return k in _SECRET_KEYS or any(p in k for p in _SECRET_PARTS) or k.endswith(_SECRET_SUFFIXES)


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of `value` with every secret replaced by ``<redacted>``.

    A value under a secret-named key (``api_key``, ``aws_secret_access_key``, ``extra_headers``, anything with
    ``secret``/``password``/``api_key`` in its name or ending ``_token``/``_key``) is replaced when it is a
    non-empty string, an object or a list (numbers, booleans and nulls stay: ``per_turn_token: 0`` is no
    secret). Every occurrence of a string in `secrets` (say the session key) inside any string is replaced too.
    """
    known = tuple(s for s in secrets if s)
    return _redact(value, known)


def _redact(value: Any, known: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and _secret_key(k) and (isinstance(v, (dict, list)) or (isinstance(v, str) and v)):
                out[k] = REDACTED
            else:
                out[k] = _redact(v, known)
        return out
    if isinstance(value, (list, tuple)):
        return [_redact(v, known) for v in value]
    if isinstance(value, str) and known:
        for s in known:
            if s in value:
                value = value.replace(s, REDACTED)
        return value
    return value


def secret_values(value: Any) -> list[str]:
    """The non-empty strings found under secret-named keys of `value` (to redact them wherever they echo)."""
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and _secret_key(k) and isinstance(v, str) and v:
                out.append(v)
            else:
                out.extend(secret_values(v))
    elif isinstance(value, (list, tuple)):
        for v in value:
            out.extend(secret_values(v))
    return out


def parse_agent_settings(text: str) -> dict[str, Any]:
    """Parse ``--agent-settings`` (the JSON text; the caller reads ``@FILE``) into the create body's fields.

    Accepted: a partial create body (with ``agent``, ``agent_settings`` or ``agent_profile_id``, optionally
    ``workspace`` and other fields), or the ``agent`` object alone (it has ``llm``).

    Raises:
        AgentSettingsError: not JSON, not an object, or neither shape; the message says what to pass.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AgentSettingsError(
            f"--agent-settings is not valid JSON ({exc.msg} at character {exc.pos}): pass a JSON object "
            'such as {"agent":{"llm":{"model":"openai/gpt-4o","api_key":"..."}}} or @FILE'
        ) from None
    if not isinstance(data, dict):
        raise AgentSettingsError('--agent-settings must be a JSON object, e.g. {"agent":{"llm":{...}}}')
    if any(k in data for k in ("agent", "agent_settings", "agent_profile_id")):
        return data
    if "llm" in data:
        return {"agent": data}
    raise AgentSettingsError(
        '--agent-settings needs "agent" (with "llm": {"model": ...}) or the agent object itself '
        '(with "llm"); the server refuses a create without one'
    )


def create_body(
    settings: dict[str, Any],
    working_dir: str,
    *,
    conversation_id: str | None = None,
    initial_message: str | None = None,
    stream: bool | None = None,
) -> dict[str, Any]:
    """The ``POST /api/conversations`` body: `settings` (from `parse_agent_settings`, not modified) plus the
    workspace (unless the settings bring one), an optional id to reuse, first message, and ``llm.stream``."""
    body: dict[str, Any] = json.loads(json.dumps(settings))  # a deep copy of plain JSON
    body.setdefault("workspace", {"working_dir": working_dir})
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    if initial_message is not None:
        body["initial_message"] = user_message(initial_message)
    if stream is not None:
        agent = body.get("agent")
        if isinstance(agent, dict):
            llm = agent.setdefault("llm", {})
            if isinstance(llm, dict):
                llm["stream"] = stream
    return body


def user_message(text: str) -> dict[str, Any]:
    """A user ``Message``."""
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def message_frame(text: str) -> bytes:
    """The socket frame sending a user message (stored and run, like REST with ``run: true``): compact UTF-8
    JSON (`loadtest.ws.json`: orjson when installed)."""
    return dumps(user_message(text))


def send_body(text: str, run: bool = True) -> dict[str, Any]:
    """The ``POST /api/conversations/{id}/events`` body (``run`` defaults to false on the server: send it)."""
    body = user_message(text)
    body["run"] = run
    return body


def auth_frame(session_api_key: str) -> str:
    """The first frame authenticating a socket (``--key-via first-frame``). Never log it."""
    return json.dumps({"type": "auth", "session_api_key": session_api_key}, separators=(",", ":"))


def conversation_path(conversation_id: str) -> str:
    return f"{CREATE_PATH}/{conversation_id}"


def events_path(conversation_id: str) -> str:
    """``POST`` a message here (`send_body`)."""
    return f"{CREATE_PATH}/{conversation_id}/events"


def search_path(conversation_id: str) -> str:
    """``GET`` stored events (``limit`` ≤ 100, ``page_id``, ``sort_order``, ``timestamp__gte``)."""
    return f"{CREATE_PATH}/{conversation_id}/events/search"


def run_path(conversation_id: str) -> str:
    """``POST`` (no body) to run what is stored: the retry after the run limit."""
    return f"{CREATE_PATH}/{conversation_id}/run"


def socket_path(conversation_id: str, socket: str = "events") -> str:
    """``/sockets/events/{id}`` or ``/sockets/session/{id}``."""
    if socket not in ("events", "session"):
        raise ValueError(f"unknown V1 socket {socket!r}: use events or session")
    return f"/sockets/{socket}/{conversation_id}"
