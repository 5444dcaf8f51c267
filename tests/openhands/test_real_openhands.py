"""Opt-in: the conversation layer against a real OpenHands 1.6.0 server (V0 socket) on loopback.

Skipped unless LOADTEST_OH_URL (and LOADTEST_OH_LLM, the mock LLM's /v1 URL) are set, e.g.:

    loadtest openhands up --run-dir /tmp/oh-check --lifetime 600     # prints both URLs
    LOADTEST_OH_URL=http://127.0.0.1:PORT LOADTEST_OH_LLM=http://127.0.0.1:LLM_PORT/v1 \\
        .venv/bin/python -m pytest tests/openhands/test_real_openhands.py
    loadtest openhands down --run-dir /tmp/oh-check
"""

from __future__ import annotations

# isort: split

import gevent

import os

import pytest

from loadtest.openhands import Conversation, ConversationConfig, EventKind, RestClient
from tests.openhands.recorder import Recorder
from tests.openhands.support import expected_replay, stored_events, wait_until

URL = os.environ.get("LOADTEST_OH_URL", "")
LLM = os.environ.get("LOADTEST_OH_LLM", "")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (URL and LLM), reason="set LOADTEST_OH_URL and LOADTEST_OH_LLM (loadtest openhands up)"),
]


def test_turns_reconnect_and_replay_from_every_midpoint() -> None:
    settings = {"llm_model": "openai/mock-model", "llm_api_key": "sk-mock", "llm_base_url": LLM,
                "agent": "CodeActAgent", "confirmation_mode": False, "language": "en"}  # fmt: skip
    rest = RestClient(URL, settings=settings)
    cfg = ConversationConfig(URL, connect_timeout=60, turn_timeout=60)
    rec = Recorder()
    conv = Conversation(cfg, listener=rec, rest=rest)
    conv.connect()
    assert wait_until(lambda: rec.kinds.count(EventKind.AGENT_STATE) >= 2, timeout=60)
    for i in range(2):
        turn = conv.send_message(f"hello {i}", timeout=60)
        assert turn.end_state == "finished", turn  # the mock LLM calls `finish`
        assert turn.echo_at is not None and turn.first_agent_at is not None
    conv.drop()
    assert conv.reconnect().ok
    assert conv.send_message("after reconnect", timeout=60).end_state == "finished"
    assert conv.settle(30)
    integ = conv.integrity
    assert integ.gaps == 0 and integ.out_of_order == 0 and integ.holes_expected > 0
    cid = conv.conversation_id
    assert cid is not None
    conv.close()
    stored = stored_events(rest, cid)
    top = stored[-1]["id"]
    for latest in range(-1, top + 1):
        want = expected_replay(stored, latest)
        c = Conversation(cfg, cid, rest=rest, latest_event_id=latest)
        cr = c.connect()
        assert c.settle(30)
        i2 = c.integrity
        assert cr.replayed_events == len(want), latest
        assert (i2.gaps, i2.duplicates, i2.out_of_order) == (0, 0, 0), (latest, i2)
        assert i2.holes_expected == top - latest - len(want), (latest, i2)
        c.close()
        gevent.sleep(0.25)  # the audits' REST calls stay under OpenHands' 10 req/s limiter
