"""Shared helpers for the conversation tests against the reference server."""

from __future__ import annotations

# isort: split

import gevent

import time
from collections.abc import Callable
from typing import Any

from loadtest.openhands import EventKind, RestClient, classify


def wait_until(pred: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> bool:
    """Poll `pred` until true or `timeout` seconds pass (bounded)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        gevent.sleep(step)
    return pred()


def stored_events(rest: RestClient, cid: str) -> list[dict[str, Any]]:
    """Every stored event of a conversation, from REST (pages of 100)."""
    out: list[dict[str, Any]] = []
    start = 0
    for _ in range(1000):
        res = rest.events(cid, start_id=start, limit=100)
        assert res.ok, res
        events = res.body["events"]
        out.extend(events)
        if not res.body["has_more"] or not events:
            return out
        start = events[-1]["id"] + 1
    raise AssertionError("too many pages")


def expected_replay(stored: list[dict[str, Any]], latest: int) -> list[int]:
    """OpenHands' replay rule (protocol doc §3): ids > latest, no null/recall actions, newest state last."""
    ids: list[int] = []
    newest_state = -1
    for ev in stored:
        c = classify(ev)
        assert c.id is not None
        if c.id <= latest or c.kind is EventKind.NULL or c.kind is EventKind.RECALL:
            continue
        if c.kind is EventKind.AGENT_STATE:
            newest_state = max(newest_state, c.id)
            continue
        ids.append(c.id)
    if newest_state >= 0:
        ids.append(newest_state)
    return ids


def p50(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
