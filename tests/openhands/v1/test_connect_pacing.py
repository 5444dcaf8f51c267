"""V1 reconnects never storm a dead server (one that accepts and closes at once), counted on the server side.

As V0's (`tests/faults/test_connect_pacing.py`; both run the checks in `tests/faults/pacing_checks.py`): each
user sends from its own 127.0.0.x; whatever it does meanwhile (gap audits over REST ``events/search``,
WebSocket upgrades, repeated `reconnect` calls), no user opens more than 2 connections in any 1 s window, all
users together no more than 2 × users, the first retry waits at least 0.5 s and the waits grow to the cap
without falling back.
"""

from __future__ import annotations

import random
import socket

import pytest

from loadtest.openhands.v1.config import V1Config
from loadtest.openhands.v1.conversation import V1Conversation, V1CreateError
from tests.faults.pacing_checks import check_backoff_grows, check_users_stay_under_two_per_second, reconnects_until

CID = "0b5e2c1a-7d4f-4c1e-9a57-3f2e8d6b1c90"


def _user(url: str, n: int, seconds: float) -> V1Conversation:
    """Join a conversation id (no create), then audit over REST and reconnect until `seconds` pass."""
    cfg = V1Config(url, source_address=f"127.0.0.{n + 2}", connect_timeout=2.0, audit_rate=100.0)
    conv = V1Conversation(cfg, CID, rng=random.Random(n))

    def audit() -> None:
        for _ in range(3):
            conv.settle(final=False, timeout=0.5)  # an events/search page: each one a connection to the server

    target = url.removeprefix("http://")  # a close before the upgrade's answer, or its RST (a race)
    for rr in reconnects_until(conv, seconds, audit):
        assert not rr.ok and rr.cause in (
            f"connection closed without an answer ({target})",
            f"connection reset ({target})",
        )
    return conv


def test_v1_users_never_exceed_two_connections_per_second() -> None:
    check_users_stay_under_two_per_second(_user)


def test_v1_reconnect_backoff_starts_at_half_a_second_and_never_falls_back() -> None:
    def conversation(url: str) -> V1Conversation:
        cfg = V1Config(url, connect_timeout=2.0, backoff_initial=1.0, backoff_max=4.0)
        return V1Conversation(cfg, CID, rng=random.Random(7))

    check_backoff_grows(conversation)


def test_v1_create_against_a_closed_port_names_the_cause_never_status_0() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    conv = V1Conversation(V1Config(f"http://127.0.0.1:{port}", agent_settings={"llm": {"model": "m"}}))
    with pytest.raises(V1CreateError) as info:
        conv.create()
    cause = f"connect refused (127.0.0.1:{port})"
    assert repr(info.value) == f"V1CreateError({cause!r})" and cause in str(info.value)
    assert conv.last_cause == cause and conv.pacer.failures == 1
