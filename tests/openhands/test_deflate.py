"""Conversation with permessage-deflate offered (ConversationConfig.deflate) against the reference server."""

from __future__ import annotations

from typing import Any

from loadtest.openhands import Conversation, ConversationConfig
from tests.openhands.recorder import Recorder
from tests.support.procs import ReferenceServer


def test_deflate_offered_gives_the_same_turns_as_plain() -> None:
    opts = ("--event-delay-ms", "1", "--script", "run,message", "--max-conversations", "0", "--no-http-limit")
    with ReferenceServer(*opts, "--ws-compression") as srv:
        seen = {}
        for deflate in (False, True):
            conv = Conversation(ConversationConfig(srv.url, deflate=deflate), listener=Recorder())
            conv.connect()
            turns = [conv.send_message(f"turn {i}", timeout=30) for i in range(3)]
            client: Any = conv._client  # whether compressed frames were really inflated
            inflater = client._transport._inflater
            seen[deflate] = ([t.end_state for t in turns], [t.events for t in turns], inflater is not None)
            assert inflater is None or inflater._z is not None
            conv.close()
    assert seen[True][:2] == seen[False][:2] == (["awaiting_user_input"] * 3, seen[False][1])
    assert seen[True][2] and not seen[False][2]
