"""Reconnects never storm a dead server (one that accepts and closes at once), counted on the server side.

Each user sends from its own 127.0.0.x, so the listener attributes every TCP accept to a user. Whatever
the user does meanwhile (readiness polls over REST, WebSocket upgrades, repeated `reconnect` calls), no user
opens more than 2 connections in any 1 s window, all users together no more than 2 × users, the first
retry waits at least 0.5 s, and the waits grow to the cap without falling back (there was never a stable
connection). Also through the harness: `locust -f locustfile.py --headless` against the dead server.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from loadtest.openhands import Conversation, ConversationConfig
from tests.faults.dead_listener import DeadListener, most_in_window
from tests.faults.pacing_checks import check_backoff_grows, check_users_stay_under_two_per_second, reconnects_until
from tests.harness.locustrun import locust_argv, start_locust, wait_bounded
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow

SERVER_OPTS = ("--event-delay-ms", "20", "--script", "run,message", "--max-conversations", "0", "--no-http-limit")


def _user(url: str, n: int, seconds: float) -> Conversation:
    """Join an existing conversation id (no create), then poll readiness and reconnect until `seconds` pass."""
    cfg = ConversationConfig(url, source_address=f"127.0.0.{n + 2}", connect_timeout=2.0, ready_poll=0.5)
    conv = Conversation(cfg, "c0ffee", rng=random.Random(n))

    def poll() -> None:
        conv.wait_ready(timeout=0.6)  # REST polls: each one is a connection to the dead server

    for rr in reconnects_until(conv, seconds, poll):
        assert not rr.ok and rr.cause is not None
    return conv


def test_users_never_exceed_two_connections_per_second() -> None:
    check_users_stay_under_two_per_second(_user)


def test_reconnect_backoff_starts_at_half_a_second_and_never_falls_back() -> None:
    def conversation(url: str) -> Conversation:
        cfg = ConversationConfig(url, connect_timeout=2.0, backoff_initial=1.0, backoff_max=4.0)
        return Conversation(cfg, "c0ffee", rng=random.Random(7))

    check_backoff_grows(conversation)


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
