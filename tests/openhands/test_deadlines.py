"""The process-wide deadline sweeper: wakes at or after the deadline, never before; discard cancels; it stops idle."""

from __future__ import annotations

import gevent
import gevent.event

import time

from loadtest.openhands.deadlines import Deadlines


def test_waiter_is_woken_after_its_deadline_and_never_before() -> None:
    d = Deadlines()
    early, late = gevent.event.Event(), gevent.event.Event()
    now = time.perf_counter()
    d.add(early, now + 0.05, 0.05)
    d.add(late, now + 0.3, 0.3)
    assert early.wait(5.0)
    assert time.perf_counter() >= now + 0.05
    assert not late.is_set() or time.perf_counter() >= now + 0.3
    assert late.wait(5.0) and time.perf_counter() >= now + 0.3
    assert len(d) == 0


def test_discarded_waiter_is_not_woken_and_the_sweeper_stops_when_empty() -> None:
    d = Deadlines()
    kept, dropped = gevent.event.Event(), gevent.event.Event()
    now = time.perf_counter()
    d.add(dropped, now + 0.02, 0.02)
    d.add(kept, now + 0.1, 0.1)
    d.discard(dropped)
    assert kept.wait(5.0)
    gevent.sleep(0.1)
    assert not dropped.is_set()
    gevent.sleep(0.6)  # one longest period: the sweeper sees nothing registered and exits
    assert not d._running
    again = gevent.event.Event()
    d.add(again, time.perf_counter() + 0.02, 0.02)  # and starts again with the next registration
    assert again.wait(5.0)
