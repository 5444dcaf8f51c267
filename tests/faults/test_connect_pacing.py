"""Reconnects never storm a dead server (one that accepts and closes at once), counted on the server side.

Each user sends from its own 127.0.0.x, so the listener attributes every TCP accept to a user. Whatever
the user does meanwhile (readiness polls over REST, WebSocket upgrades, repeated `reconnect` calls), no user
opens more than 2 connections in any 1 s window, all users together no more than 2 × users, the first
retry waits at least 0.5 s, and the waits grow to the cap without falling back (there was never a stable
connection). Also through the harness: `locust -f locustfile.py --headless` against the dead server.
"""

from __future__ import annotations

# isort: split

import gevent

import itertools
import random
import time
from pathlib import Path

import pytest

from loadtest.openhands import Conversation, ConversationConfig
from tests.faults.dead_listener import DeadListener, most_in_window
from tests.harness.locustrun import locust_argv, start_locust, wait_bounded
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow

USERS = 4
SERVER_OPTS = ("--event-delay-ms", "20", "--script", "run,message", "--max-conversations", "0", "--no-http-limit")


def _user(url: str, n: int, seconds: float) -> Conversation:
    """Join an existing conversation id (no create), then poll readiness and reconnect until `seconds` pass."""
    cfg = ConversationConfig(url, source_address=f"127.0.0.{n + 2}", connect_timeout=2.0, ready_poll=0.5)
    conv = Conversation(cfg, "c0ffee", rng=random.Random(n))
    end = gevent.get_hub().loop.now() + seconds
    while gevent.get_hub().loop.now() < end:
        conv.wait_ready(timeout=0.6)  # REST polls: each one is a connection to the dead server
        left = end - gevent.get_hub().loop.now()
        if left <= 0:
            break
        rr = conv.reconnect(max_attempts=3, deadline=left)
        assert not rr.ok and rr.cause is not None
    return conv


def test_users_never_exceed_two_connections_per_second() -> None:
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


def test_reconnect_backoff_starts_at_half_a_second_and_never_falls_back() -> None:
    with DeadListener() as dead:
        cfg = ConversationConfig(dead.url, connect_timeout=2.0, backoff_initial=1.0, backoff_max=4.0)
        conv = Conversation(cfg, "c0ffee", rng=random.Random(7))
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


def test_harness_users_reconnecting_to_a_dead_server_stay_under_two_per_second(tmp_path: Path) -> None:
    """Users chat with a live server; it is killed at 3 s and a dead listener takes its port: every user
    reconnects (and polls, and retries) against a server that accepts and closes, counted per source address."""
    users, run_s = 4, 12
    server = ReferenceServer(*SERVER_OPTS)
    port = server.port
    argv = locust_argv(
        server.url, tmp_path / "dead", "--think-time", "200ms", "--turn-timeout", "3s", "--connect-timeout", "2s",
        "--exit-code-on-error", "0", "--source-ips", f"127.0.0.2-127.0.0.{users + 1}", "ChatUser",
        users=users, run_time=f"{run_s}s",
    )  # fmt: skip
    proc = start_locust(argv)
    try:
        time.sleep(3)
        server.kill()
        with DeadListener(port) as dead:
            _, out = wait_bounded(proc, run_s + 40)
    finally:
        server.stop()
    per_user = dead.by_host()
    worst = {host: most_in_window(times) for host, times in per_user.items()}
    total = most_in_window(t for t, _ in dead.accepts)
    print("attempts per source:", {h: len(t) for h, t in per_user.items()}, "most in 1 s:", worst, "all:", total)
    assert len(per_user) == users, out[-3000:]  # --source-ips: one 127.0.0.x per user, every user came back
    assert all(len(t) >= 3 for t in per_user.values()), out[-3000:]
    assert max(worst.values()) <= 2, worst
    assert total <= 2 * users, total
