"""The connect-pacing checks both protocols' clients must pass against a `DeadListener` (V0 in
`tests/faults/test_connect_pacing.py`, V1 in `tests/openhands/v1/test_connect_pacing.py`).

Each protocol's test supplies how to build its conversation and what its user does between reconnects
(readiness polls, gap audits); the counting and the bounds are here, once.
"""

from __future__ import annotations

# isort: split

import gevent

import itertools
from collections.abc import Callable, Iterator
from typing import Protocol

from loadtest.openhands.config import ReconnectResult
from tests.faults.dead_listener import DeadListener, most_in_window

USERS = 4


class Redialing(Protocol):
    def reconnect(self, max_attempts: int | None = None, deadline: float | None = None) -> ReconnectResult: ...


def reconnects_until(conv: Redialing, seconds: float, between: Callable[[], None]) -> Iterator[ReconnectResult]:
    """Call `between` (the user's other connections), then `reconnect` (3 attempts at most), until `seconds`
    pass; yields each reconnect's result."""
    end = gevent.get_hub().loop.now() + seconds
    while gevent.get_hub().loop.now() < end:
        between()
        left = end - gevent.get_hub().loop.now()
        if left <= 0:
            break
        yield conv.reconnect(max_attempts=3, deadline=left)


def check_users_stay_under_two_per_second(user: Callable[[str, int, float], object]) -> None:
    """`USERS` users (``user(url, n, seconds)``, each from 127.0.0.{n + 2}) against one dead server for 6 s: each
    tried, none opened more than 2 connections in any 1 s window, all together no more than 2 × users."""
    with DeadListener() as dead:
        users = [gevent.spawn(user, dead.url, n, 6.0) for n in range(USERS)]
        gevent.joinall(users, timeout=30, raise_error=True)
    per_user = dead.by_host()
    assert sorted(per_user) == [f"127.0.0.{n + 2}" for n in range(USERS)]
    worst = {host: most_in_window(times) for host, times in per_user.items()}
    print("attempts per user:", {h: len(t) for h, t in per_user.items()}, "most in 1 s:", worst)
    assert all(len(times) >= 4 for times in per_user.values())  # the users did try
    assert max(worst.values()) <= 2, worst
    assert most_in_window(t for t, _ in dead.accepts) <= 2 * USERS


def check_backoff_grows(conversation: Callable[[str], Redialing]) -> None:
    """Three `reconnect` calls of 3 attempts on one conversation (``conversation(url)``, backoff 1 s to 4 s)
    against a dead server: the first retry waits 0.5 s or more, the waits grow to the cap and never fall back
    (the backoff is the conversation's, not restarted per call)."""
    with DeadListener() as dead:
        conv = conversation(dead.url)
        start = gevent.get_hub().loop.now()
        for _ in range(3):
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
