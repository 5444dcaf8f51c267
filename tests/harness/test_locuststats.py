"""`--locust-rows batched`: Locust's statistics end up exactly as if every row had been logged one by one."""

from __future__ import annotations

from locust.stats import RequestStats

import random
from typing import Any

from loadtest.harness.locuststats import BatchedRows
from loadtest.harness.metrics import Recorder
from tests.harness.test_metrics import Clock, Hook, _turn

FIELDS = (
    "num_requests", "num_none_requests", "num_failures", "total_content_length", "min_response_time",
    "max_response_time", "response_times", "num_reqs_per_sec",
)  # fmt: skip


def _state(entry: Any) -> dict[str, Any]:
    out = {f: getattr(entry, f) for f in FIELDS}
    out["response_times"] = dict(out["response_times"])
    out["num_reqs_per_sec"] = dict(out["num_reqs_per_sec"])
    out["total_response_time"] = round(entry.total_response_time, 6)
    out["p95"] = entry.get_response_time_percentile(0.95)
    return out


def test_batched_rows_equal_rows_logged_one_by_one(monkeypatch: Any) -> None:
    rng = random.Random(7)
    rows = [(name, rng.lognormvariate(2, 1.5), rng.randrange(0, 900)) for name in ("echo", "turn") * 500]
    second = 1_700_000_000
    monkeypatch.setattr("time.time", lambda: second + 0.5)  # both ways see the same clock
    one_by_one, batched = RequestStats(), RequestStats()
    for name, ms, length in rows:
        one_by_one.log_request("socketio", name, ms, length)
    sink = BatchedRows(batched, "socketio")
    for name, ms, length in rows:
        sink.add(name, ms, length)
    assert sink.pending() == len(rows) and batched.total.num_requests == 0
    sink.flush(second)
    assert sink.pending() == 0
    for name in ("echo", "turn"):
        assert _state(batched.get(name, "socketio")) == _state(one_by_one.get(name, "socketio"))
    assert _state(batched.total) == _state(one_by_one.total)


def test_recorder_in_batched_mode_fires_only_failures_and_flushes_when_the_second_closes() -> None:
    hook, clock, stats = Hook(), Clock(1000.2), RequestStats()
    rec = Recorder(hook, clock=clock)
    rec.rows = BatchedRows(stats, "socketio")
    rec.turn(_turn())
    rec.turn(_turn("rate_limited"))  # a failure: fired at once, with its exception
    assert [(r["name"], type(r["exception"]).__name__) for r in hook.rows] == [("turn", "TurnFailed")]
    assert stats.total.num_requests == 0  # nothing reaches Locust before the second closes
    clock.t = 1001.1
    rec.roll()
    assert stats.get("turn", "socketio").num_requests == 1 and stats.get("echo", "socketio").num_requests == 2
    assert stats.get("turn", "socketio").num_reqs_per_sec == {1000: 1}
    assert stats.get("turn", "socketio").total_content_length == 900
    assert rec.closed[0].hists["turn"].count == 1  # our histograms are the same in both modes
