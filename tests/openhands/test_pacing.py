"""`ConnectPacer` and `backoff_delay` on plain numbers: the window, the backoff, its reset (no I/O)."""

from __future__ import annotations

import random

from loadtest.openhands.pacing import MIN_RETRY_S, STABLE_CONNECTION, ConnectPacer, backoff_delay


def _pacer(seed: int = 1) -> ConnectPacer:
    return ConnectPacer(1.0, 8.0, random.Random(seed))


def test_first_retry_is_randomized_and_at_least_half_a_second() -> None:
    rng = random.Random(3)
    first = [backoff_delay(1, 1.0, 8.0, None, rng) for _ in range(500)]
    assert min(first) >= MIN_RETRY_S and max(first) <= 1.0
    assert max(first) - min(first) > 0.4  # spread: users that failed together do not retry together
    # whatever the configured start, never below 0.5 s
    assert min(backoff_delay(1, 0.01, 8.0, None, rng) for _ in range(100)) >= MIN_RETRY_S


def test_backoff_grows_to_the_cap_and_retry_after_wins_when_longer() -> None:
    rng = random.Random(4)
    ceilings = [max(backoff_delay(n, 1.0, 8.0, None, rng) for _ in range(300)) for n in range(1, 8)]
    assert ceilings[:4] == sorted(ceilings[:4])  # 1, 2, 4, 8 s ceilings
    assert all(7.5 < c <= 8.0 for c in ceilings[3:])  # then the cap
    assert backoff_delay(1, 1.0, 8.0, 20.0, rng) == 20.0
    assert backoff_delay(7, 1.0, 8.0, 0.1, rng) >= 4.0  # a shorter Retry-After does not shorten the backoff


def test_window_allows_two_attempts_per_second() -> None:
    p = _pacer()
    assert p.delay(10.0, connect=False) == 0.0
    p.take(10.0)
    assert p.delay(10.1, connect=False) == 0.0
    p.take(10.1)
    wait = p.delay(10.2, connect=False)
    assert 0.8 < wait <= 0.9  # the third waits until the first is more than 1 s old (plus a margin)
    p.take(10.2 + wait)
    starts = [10.0, 10.1, 10.2 + wait]
    assert starts[2] - starts[0] > 1.0


def test_failures_back_off_growing_and_only_a_stable_connection_resets() -> None:
    p = _pacer(5)
    waits = []
    now = 0.0
    for _ in range(6):
        waits.append(p.failed(now))
        now += waits[-1]
        assert p.retry_in(now - 0.01) > 0 and p.retry_in(now) == 0.0
    assert min(waits) >= MIN_RETRY_S and waits[:3] == sorted(waits[:3]) and p.failures == 6
    assert all(4.0 <= w <= 8.0 for w in waits[3:])  # capped: uniform in [cap/2, cap], never back to the start
    # connected, then lost after 0.3 s: not stable, the backoff keeps growing
    p.connected(now)
    p.lost(now + 0.3)
    assert p.failures == 7 and p.retry_in(now + 0.3) >= 4.0
    # lost 0.3 s after connecting because the client dropped it: no failure, no reset
    p.connected(now + 10)
    p.lost(now + 10.3, own=True)
    assert p.failures == 7
    # a connection that stayed up STABLE_CONNECTION: the next connect is immediate, the backoff starts again
    p.connected(now + 20)
    p.lost(now + 20 + STABLE_CONNECTION)
    assert p.failures == 0 and p.retry_in(now + 20 + STABLE_CONNECTION) == 0.0
    assert p.failed(now + 30) <= 1.0  # from the first step again
    # a late second report of the same loss changes nothing
    p.lost(now + 31)
    assert p.failures == 1


def test_rest_calls_wait_for_the_window_only_connects_for_the_backoff_too() -> None:
    p = _pacer(6)
    p.failed(0.0, retry_after=5.0)
    assert p.delay(1.0, connect=False) == 0.0
    assert p.delay(1.0, connect=True) == 4.0
