"""A storm of handshake refusals (HTTP 429, ``Retry-After: 2``): no user ever retries sooner than 2 s.

The server admits one new Engine.IO session per second per IP (all users share 127.0.0.1) and answers the
rest 429 with a fixed ``Retry-After: 2``; it also drops every connection every 3 s so reconnects meet the
storm too. Its ``/debug/handshakes`` log (monotonic times, per attempt, with the conversation id) is the
judge: after a 429, that conversation's next attempt comes at least 2 s later.
"""

from __future__ import annotations

import itertools
import json
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest

from tests.harness.locustrun import run_locust
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow

RETRY_AFTER = 2


def test_no_user_retries_before_retry_after(tmp_path: Path) -> None:
    opts = ("--event-delay-ms", "20", "--script", "message", "--max-conversations", "0", "--no-http-limit",
            "--handshake-rate", "1", "--handshake-retry-after", str(RETRY_AFTER),
            "--drop-every", "3", "--drop-share", "1")  # fmt: skip
    with ReferenceServer(*opts) as server:
        r = run_locust(server.url, tmp_path / "storm", "--think-time", "100ms", "ChatUser", users=6, run_time="10s")
        with urllib.request.urlopen(f"{server.url}/debug/handshakes", timeout=10) as resp:
            log = json.load(resp)
    attempts = [a for a in log["attempts"] if a["conversation_id"]]
    refused = [a for a in attempts if a["status"] == 429]
    assert len(refused) >= 6, log  # a storm: most first attempts were refused
    assert all(a["retry_after"] == RETRY_AFTER for a in refused)
    by_conv: dict[str, list[dict[str, object]]] = defaultdict(list)
    for a in attempts:
        by_conv[str(a["conversation_id"])].append(a)
    too_soon = []
    for conv, seq in by_conv.items():
        seq.sort(key=lambda a: float(a["t"]))  # type: ignore[arg-type]
        for prev, nxt in itertools.pairwise(seq):
            if prev["status"] == 429 and float(nxt["t"]) - float(prev["t"]) < RETRY_AFTER:  # type: ignore[arg-type]
                too_soon.append((conv[:8], prev["t"], nxt["t"]))
    assert not too_soon, too_soon
    # the harness counted the refusals, and users got through in the end
    assert r.counter("throttled.handshake_429") == len(refused), (r.counter("throttled.handshake_429"), len(refused))
    assert r.counter("turns") >= 6
