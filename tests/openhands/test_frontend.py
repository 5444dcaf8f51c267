"""What the frontend sends: the connect query (key placement) and a message action."""

from __future__ import annotations

import re

from loadtest.openhands.config import ConversationConfig
from loadtest.openhands.frontend import connect_query, message_action


def test_connect_query_places_the_key_as_configured() -> None:
    base = {"base_url": "http://127.0.0.1:3000", "providers": ("github", "gitlab")}
    query, headers, cookies = connect_query(ConversationConfig(**base), "abc", -1)
    assert query == {"latest_event_id": "-1", "conversation_id": "abc", "providers_set": "github,gitlab",
                     "session_api_key": "null"} and not headers and not cookies  # fmt: skip
    q, h, c = connect_query(ConversationConfig(**base, session_api_key="k", key_via="header"), "abc", 41)
    assert q["latest_event_id"] == "41" and "session_api_key" not in q and h == {"X-Session-API-Key": "k"} and not c
    q, h, c = connect_query(ConversationConfig(**base, session_api_key="k", key_via="cookie"), "abc", 0)
    assert "session_api_key" not in q and not h and c == {"session_api_key": "k"}
    q, _, _ = connect_query(ConversationConfig(**base, session_api_key="k"), "abc", 0)
    assert q["session_api_key"] == "k"


def test_message_action_is_the_frontends_shape() -> None:
    action = message_action("hi")
    assert action["action"] == "message" and action["args"]["content"] == "hi"
    assert action["args"]["image_urls"] == [] and action["args"]["file_urls"] == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", action["args"]["timestamp"])
