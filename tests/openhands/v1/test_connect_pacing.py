"""V1 reconnects never storm a dead server (one that accepts and closes at once), counted on the server side.

As V0's (`tests/faults/test_connect_pacing.py`, whose listener this reuses): each user sends from its own
127.0.0.x; whatever it does meanwhile (gap audits over REST ``events/search``, WebSocket upgrades, repeated
`reconnect` calls), no user opens more than 2 connections in any 1 s window, all users together no more than
2 × users, the first retry waits at least 0.5 s and the waits grow to the cap without falling back.
"""

from __future__ import annotations

# isort: split

import gevent

import itertools
import random
import socket

import pytest

from loadtest.openhands.v1.config import V1Config
from loadtest.openhands.v1.conversation import V1Conversation, V1CreateError
from tests.faults.dead_listener import DeadListener, most_in_window

USERS = 4
CID = "0b5e2c1a-7d4f-4c1e-9a57-3f2e8d6b1c90"


def _user(url: str, n: int, seconds: float) -> V1Conversation:
    """Join a conversation id (no create), then audit over REST and reconnect until `seconds` pass."""
    cfg = V1Config(url, source_address=f"127.0.0.{n + 2}", connect_timeout=2.0, audit_rate=100.0)
    conv = V1Conversation(cfg, CID, rng=random.Random(n))
    end = gevent.get_hub().loop.now() + seconds
    while gevent.get_hub().loop.now() < end:
        for _ in range(3):
            conv.settle(final=False, timeout=0.5)  # an events/search page: each one a connection to the server
        left = end - gevent.get_hub().loop.now()
        if left <= 0:
            break
        rr = conv.reconnect(max_attempts=3, deadline=left)
        target = url.removeprefix("http://")  # a close before the upgrade's answer, or its RST (a race)
        assert not rr.ok and rr.cause in (
            f"connection closed without an answer ({target})",
            f"connection reset ({target})",
        )
    return conv


def test_v1_users_never_exceed_two_connections_per_second() -> None:
    with DeadListener() as dead:
        users = [gevent.spawn(_user, dead.url, n, 6.0) for n in range(USERS)]
        gevent.joinall(users, timeout=30, raise_error=True)
    per_user = dead.by_host()
    assert sorted(per_user) == [f"127.0.0.{n + 2}" for n in range(USERS)]
    worst = {host: most_in_window(times) for host, times in per_user.items()}
    print("attempts per user:", {h: len(t) for h, t in per_user.items()}, "most in 1 s:", worst)
    assert all(len(times) >= 4 for times in per_user.values())  # the users did try
    assert max(worst.values()) <= 2, worst
    assert most_in_window(t for t, _ in dead.accepts) <= 2 * USERS


def test_v1_reconnect_backoff_starts_at_half_a_second_and_never_falls_back() -> None:
    with DeadListener() as dead:
        cfg = V1Config(dead.url, connect_timeout=2.0, backoff_initial=1.0, backoff_max=4.0)
        conv = V1Conversation(cfg, CID, rng=random.Random(7))
        start = gevent.get_hub().loop.now()
        for _ in range(3):  # three reconnect() calls: the backoff is the conversation's, not restarted per call
            rr = conv.reconnect(max_attempts=3, deadline=30)
            assert not rr.ok and rr.attempts == 3
        elapsed = gevent.get_hub().loop.now() - start
    times = [t for t, _ in dead.accepts]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    print(f"{len(times)} attempts in {elapsed:.1f} s, intervals:", [round(g, 2) for g in gaps])
    assert len(times) == 9
    assert min(gaps) >= 0.5 - 0.02  # 20 ms: the server's accept time vs the client's connect time
    growing = gaps[:2]  # ceilings 1, 2, then 4 = the cap: each wait is at least the previous ceiling
    assert growing == sorted(growing)
    assert all(g >= 2.0 - 0.02 for g in gaps[2:])  # at the cap (uniform in [2, 4]): never back to the start


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
