"""The one per-second model: names in one place, tolerant lines, one SLO measure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from loadtest.histogram import Histogram
from loadtest.slo import measure, parse_slo
from loadtest.timeline import (
    COUNTER_GROUPS,
    EXTRA_COUNTERS,
    TOP_COUNTERS,
    Second,
    error_count,
    from_line,
    outages,
    parse_lines,
    to_line,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_counter_name_is_listed_once_in_the_code() -> None:
    """A grep for a counter name finds the one list (docs, tests, and the protocol layer's own kinds aside)."""
    listing = re.compile(r'"[a-z_]+",\s*"[a-z_]+"|^\s*"[a-z_]+",\s*$')  # names side by side, or one per line
    for name in ("out_of_order", "dropped_actions", "rest_calls", "turns_in_flight", "reconnecting"):
        found = []
        for path in (ROOT / "loadtest").rglob("*.py"):
            if {"openhands", "server"} & set(path.relative_to(ROOT).parts):  # producers: their own event kinds
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                if f'"{name}"' in line and listing.search(line):
                    found.append(f"{path.relative_to(ROOT)}: {line.strip()}")
        assert found and all(x.startswith("loadtest/timeline.py") for x in found), found


def test_a_line_round_trips_and_a_garbled_last_line_is_dropped() -> None:
    s = Second(1_000)
    s.record("echo", 12.0)
    s.count("actions", 3)
    s.count("throttled.http_429", 2)
    s.count("reconnects", 1)
    s.gauges.update(users=4, sockets=3)
    text = json.dumps(to_line(s, t=5, step=1, workers=1))
    seconds, dropped = parse_lines([text, "", text[: len(text) // 2]])
    assert dropped == 1 and len(seconds) == 1
    back = seconds[0]
    assert (back.t, back.second, back.step, back.users) == (5, 1_000, 1, 4)
    assert {k: n for k, n in back.counters.items() if n} == s.counters and back.hists["echo"].count == 1
    assert back.throttled == {"http_429": 2} and back.extra == {"reconnects": 1}


def test_missing_keys_read_as_zero_and_unknown_keys_are_ignored() -> None:
    s = from_line({"t": 3, "future": {"x": 1}, "counters": {"actions": "many", "gaps": 2, "new_thing": 4}})
    assert (s.actions, s.gaps, s.events, s.users, s.gauge("sockets")) == (0, 2, 0, 0, 0.0)
    assert s.counter("new_thing") == 4
    with pytest.raises(ValueError, match="'t'"):
        from_line({"counters": {}})


def test_the_connects_fallback_is_the_same_for_one_merged_second_and_for_the_seconds() -> None:
    old = [from_line({"t": t, "counters": {"actions": 1, "failures": {"connect": 1}}}) for t in range(3)]
    slo = parse_slo("throttled.ratio<1%")
    assert measure(slo, old) == 0.0
    ops = parse_slo("operations>0")
    assert measure(ops, old) == 6.0  # 3 actions + 3 failed connect attempts


def test_error_count_leaves_out_failures_a_throttle_signal_explains() -> None:
    s = Second(0)
    s.count("failures.connect", 5)
    s.count("failures.turn", 2)
    s.count("throttled.handshake_429", 4)
    s.count("throttled.http_delayed", 9)  # a delay, not a failed attempt: excuses nothing
    s.count("errors.protocol_bad_json", 1)
    assert error_count(s) == 1 + (7 - 4)
    s.count("actions", 100)
    s.count("connects", 10)
    assert measure(parse_slo("errors.ratio<1%"), s) == pytest.approx(4 / 110)
    assert measure(parse_slo("errors.protocol_bad_json==0"), s) == 1.0


def test_outage_seconds_need_a_socket_seen_up_first() -> None:
    def sec(t: int, sockets: int, reconnecting: int = 0, failed: int = 0) -> Second:
        s = Second(t=t, users=2, gauges={"sockets": sockets, "reconnecting": reconnecting})
        if failed:
            s.count("failures.connect", failed)
        return s

    never_up = [sec(0, 0, failed=2), sec(1, 0, failed=2)]
    assert outages(never_up) == [] and measure(parse_slo("outage_s==0"), never_up) == 0.0
    run = [sec(0, 2), sec(1, 0, reconnecting=2), sec(2, 0, failed=1), sec(3, 2, failed=1), sec(4, 0, 2)]
    (first, second) = outages(run)
    assert (first.start_t, first.end_t, first.failed_connects) == (1, 2, 2)
    assert (second.start_t, second.duration_s) == (4, 1)
    assert measure(parse_slo("outage_s==0"), run) == 3.0


def test_names_feed_the_grammar() -> None:
    for name in (*TOP_COUNTERS, *EXTRA_COUNTERS, *COUNTER_GROUPS, "outage_s", "operations"):
        assert parse_slo(f"{name}==0").subject == name
    h = Histogram()
    h.record(1.0)
    assert measure(parse_slo("echo.count>0"), Second(metrics={"echo": h})) == 1.0
