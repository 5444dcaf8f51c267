"""What the OpenHands frontend puts on the wire: the socket's connect query and a chat message's action.

Pure functions of the configuration (protocol doc §2 and §4): `connect_query` builds the Engine.IO query
(``latest_event_id`` = the highest id seen, ``conversation_id``, ``providers_set``) and places the session key
where ``--key-via`` says; `message_action` builds the ``oh_user_action`` payload of a user message.
"""

from __future__ import annotations

import time
from typing import Any

from loadtest.openhands.config import ConversationConfig

__all__ = ["connect_query", "message_action", "utc_stamp"]

_stamp: list[Any] = [-1, ""]  # (second, text): formatted once per second, not once per message


def utc_stamp() -> str:
    """Now, as the frontend stamps a message: ``2026-11-26T04:30:00Z`` (UTC, whole seconds)."""
    second = int(time.time())
    if second != _stamp[0]:
        _stamp[0], _stamp[1] = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + "Z"
    return str(_stamp[1])


def message_action(text: str) -> dict[str, Any]:
    """The ``oh_user_action`` payload of a user chat message."""
    return {
        "action": "message",
        "args": {"content": text, "image_urls": [], "file_urls": [], "timestamp": utc_stamp()},
    }


def connect_query(
    cfg: ConversationConfig, conversation_id: str, max_id: int
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(query, headers, cookies) of a socket connect that resumes after `max_id` (-1: from the start).

    The key goes in the query (``null`` when there is none, as the frontend sends), the ``X-Session-API-Key``
    header or the ``session_api_key`` cookie.
    """
    query = {
        "latest_event_id": str(max_id),
        "conversation_id": conversation_id,
        "providers_set": ",".join(cfg.providers),
    }
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    key = cfg.session_api_key
    if cfg.key_via == "query":
        query["session_api_key"] = key if key is not None else "null"
    elif key is not None and cfg.key_via == "header":
        headers["X-Session-API-Key"] = key
    elif key is not None:
        cookies["session_api_key"] = key
    return query, headers, cookies
