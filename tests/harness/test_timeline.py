"""Timeline slices merge exactly; lines follow docs/contracts.md; the assembler releases each second once."""

from __future__ import annotations

import json
import random

from loadtest.harness.timeline import Assembler
from loadtest.histogram import Histogram
from loadtest.timeline import Second as Slice
from loadtest.timeline import from_line as slice_from_line
from loadtest.timeline import to_line as line_from_slice
from loadtest.timeline import window


def _random_slice(rng: random.Random, second: int, worker: int) -> tuple[Slice, list[float]]:
    s = Slice(second)
    values = [rng.lognormvariate(3, 1) for _ in range(rng.randint(0, 50))]
    for v in values:
        s.record("echo", v)
    s.count("actions", len(values))
    s.count("events", 3 * len(values))
    s.count("throttled.http_429", rng.randint(0, 2))
    s.gauges.update(users=5, conversations=5, sockets=4, offered_rate=2.5)
    s.health.append({"worker": worker, "loop_lag_ms": rng.random() * 10, "cpu_percent": rng.random() * 100})
    return s, values


def test_merge_of_worker_slices_equals_one_process() -> None:
    rng = random.Random(7)
    parts, everything = [], Histogram()
    for worker in range(3):
        s, values = _random_slice(rng, 100, worker)
        parts.append(Slice.from_wire(json.loads(json.dumps(s.to_wire()))))  # over the wire and back
        for v in values:
            everything.record(v)
    merged = window(parts, 100)
    assert merged.hists["echo"].buckets == everything.buckets
    assert merged.hists["echo"].count == everything.count
    assert merged.counters["actions"] == everything.count
    assert merged.counters["events"] == 3 * everything.count
    assert merged.gauges["users"] == 15 and merged.gauges["offered_rate"] == 7.5
    assert len(merged.health) == 3


def test_line_format_round_trip() -> None:
    s = Slice(1_764_118_100)
    s.record("connect", 12.5)
    s.count("actions", 5)
    s.count("throttled.http_429", 2)
    s.count("disconnects.server", 1)
    s.count("failures.echo", 0)
    s.count("connects", 3)
    s.gauges.update(users=10, conversations=10, sockets=9, turns_in_flight=3, offered_rate=5.0)
    s.health = [
        {"worker": 0, "loop_lag_ms": 1.2, "cpu_percent": 30.0},
        {"worker": 1, "loop_lag_ms": 3.4, "cpu_percent": 20},
    ]
    line = line_from_slice(s, t=12, step=2, workers=2)
    assert json.loads(json.dumps(line)) == line
    assert line["t"] == 12 and line["ts"] == 1_764_118_100.0 and line["users"] == 10 and line["step"] == 2
    assert line["offered_rate"] == 5.0
    assert line["gauges"] == {"conversations": 10, "sockets": 9, "turns_in_flight": 3, "reconnecting": 0}
    c = line["counters"]
    assert c["actions"] == 5 and c["events"] == 0 and c["gaps"] == 0 and c["connects"] == 3
    assert c["throttled"] == {"http_429": 2} and c["disconnects"] == {"server": 1} and c["failures"] == {}
    assert set(line["metrics"]) == {"connect"} and line["metrics"]["connect"]["n"] == 1
    assert line["health"]["loop_lag_ms"] == 3.4 and line["health"]["cpu_percent"] == 30.0
    assert line["health"]["workers"] == 2 and len(line["health"]["by_worker"]) == 2
    back = slice_from_line(line)
    assert back.counters["throttled.http_429"] == 2 and back.hists["connect"].count == 1


def test_assembler_waits_for_every_worker_then_releases_each_second_once() -> None:
    a = Assembler(start_second=100)
    s1 = Slice(100)
    s1.count("actions", 1)
    a.add("w1", [s1], closed_through=100)
    a.add("w2", [], closed_through=99)
    assert a.ready(now_second=102, max_lag=10) == []  # w2 has not closed second 100
    s2 = Slice(100)
    s2.count("actions", 2)
    s3 = Slice(101)
    s3.count("actions", 4)
    a.add("w2", [s2, s3], closed_through=101)
    out = a.ready(now_second=102, max_lag=10)
    assert [s.second for s in out] == [100]
    assert out[0].counters["actions"] == 3
    # w1 is lost; after max_lag seconds the master stops waiting
    assert [s.second for s in a.ready(now_second=112, max_lag=10)] == [101, 102]
    # late data goes into the next unreleased second, counted, never dropped
    late = Slice(100)
    late.count("actions", 8)
    a.add("w1", [late], closed_through=103)
    assert a.late == 1
    rest = a.flush()
    assert sum(s.counters.get("actions", 0) for s in rest) == 8
    assert a.flush() == []


def test_assembler_fills_empty_seconds_and_finishes_workers() -> None:
    a = Assembler(start_second=10)
    s = Slice(13)
    s.count("events", 1)
    a.add("w", [s], closed_through=13, final=True)
    out = a.ready(now_second=20, max_lag=100)
    assert [x.second for x in out] == [10, 11, 12, 13]
    assert sum(x.counters.get("events", 0) for x in out) == 1


def test_assembler_waits_for_an_expected_worker_that_has_not_reported_yet() -> None:
    a = Assembler(start_second=100)
    a.expect("w1")
    a.expect("w2")
    s1 = Slice(100)
    s1.count("actions", 1)
    a.add("w1", [s1, Slice(101)], closed_through=101)
    assert a.ready(now_second=103, max_lag=10) == []  # w2 is connected but its first report is still on the way
    s2 = Slice(100)
    s2.count("actions", 2)
    a.add("w2", [s2], closed_through=100)
    a.expect("w2")  # expecting again changes nothing once it has reported
    out = a.ready(now_second=103, max_lag=10)
    assert [s.second for s in out] == [100] and out[0].counters["actions"] == 3 and a.late == 0
