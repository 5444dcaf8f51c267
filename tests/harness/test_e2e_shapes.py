"""The search shapes against the reference server's known limits: the onset and the capacity they find."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.locustrun import run_locust
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow


def test_throttle_search_finds_the_per_connection_action_limit(tmp_path: Path) -> None:
    # 3 paced users against 1 action/s per connection: 2/s in total is fine, 6/s (2/s each) is throttled
    opts = ("--event-delay-ms", "5", "--script", "message", "--action-rate", "1", "--max-conversations", "0")
    with ReferenceServer(*opts) as server:
        r = run_locust(
            server.url, tmp_path / "t", "--shape", "throttle", "--shape-steps", "2,6,12", "--step-duration", "3s",
            "--step-warmup", "1s", "PacedUser", users=3, run_time="", timeout=40,
        )  # fmt: skip
    onset = r.run["throttle_onset"]
    assert onset is not None, r.output[-3000:]
    assert onset["offered_rate"] == 6.0 and onset["signal"] == "rate_limited_state"
    assert [v["ok"] for v in r.run["throttle_search"]] == [True, False]
    assert r.run["shape"] == "ThrottleSearchShape" and r.run["label"] == "throttle"
    assert [s["offered_rate"] for s in r.run["steps"]] == [2.0, 6.0]
    assert {line["step"] for line in r.lines} == {0, 1}
    assert max(line["offered_rate"] for line in r.lines if line["step"] == 1) == 6.0


def test_capacity_search_stops_after_the_first_failing_step(tmp_path: Path) -> None:
    # the server keeps 3 agent loops and evicts the oldest beyond: 3 conversations pass, 5 fail
    opts = ("--event-delay-ms", "10", "--script", "message", "--max-conversations", "3", "--no-http-limit")
    with ReferenceServer(*opts) as server:
        r = run_locust(
            server.url, tmp_path / "c", "--shape", "capacity", "--shape-steps", "2,3,5,8", "--step-duration", "6s",
            "--step-warmup", "1s", "--think-time", "100ms", "ChatUser", run_time="", timeout=70,
        )  # fmt: skip
    cap = r.run["capacity"]
    assert cap["max_conversations_within_slo"] == 3, (cap, r.output[-2000:])
    assert cap["first_failing_conversations"] == 5
    assert [s["ok"] for s in cap["steps"]] == [True, True, False]
    assert [s["users"] for s in cap["steps"]] == [2, 3, 5] and cap["steps"][1]["held"] >= 2.97
    assert [s["users"] for s in r.run["steps"]] == [2, 3, 5]  # it never went on to 8
    assert r.counter("throttled.too_many_conversations") > 0
