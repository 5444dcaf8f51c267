"""Recorder: Locust rows per measurement (never per event, never a fake 0 ms), timeline counters per second."""

from __future__ import annotations

from typing import Any

from loadtest.harness.failures import ConnectionLost, IntegrityFailure, ServerSignal, Throttled, TurnFailed
from loadtest.harness.metrics import Recorder
from loadtest.openhands import ConnectResult, ReconnectResult, RestResult, Turn
from loadtest.sio.errors import HandshakeRejected


class Hook:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def fire(self, **kwargs: Any) -> None:
        self.rows.append(kwargs)


class Clock:
    def __init__(self, t: float = 1000.2) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _recorder() -> tuple[Recorder, Hook, Clock]:
    hook, clock = Hook(), Clock()
    return Recorder(hook, clock=clock, user_count=lambda: 7), hook, clock


def _turn(end_state: str = "awaiting_user_input", intended: float | None = None) -> Turn:
    t = Turn(sent_at=10.0, intended_at=intended, echo_at=10.005, first_agent_at=10.030, end_at=10.050)
    t.end_state, t.gaps_ms, t.bytes = end_state, [5.0, 20.0, 10.0], 900
    return t


def test_turn_rows_and_histograms() -> None:
    rec, hook, _ = _recorder()
    rec.action_sent()
    rec.turn(_turn(intended=9.990))
    rows = {r["name"]: r for r in hook.rows}
    assert set(rows) == {"echo", "first_event", "event_gap", "turn"}
    assert all(r["request_type"] == "socketio" and r["exception"] is None for r in hook.rows)
    assert round(rows["echo"]["response_time"], 3) == 5.0 and round(rows["turn"]["response_time"], 3) == 50.0
    assert rows["turn"]["response_length"] == 900 and rows["event_gap"]["response_time"] == 20.0
    s = rec.current
    assert s.counters == {"actions": 1, "turns": 1}
    assert s.hists["event_gap"].count == 3  # every gap in the timeline, one Locust row per turn
    assert round(s.hists["turn_co"].max, 3) == 60.0 and round(s.hists["echo_co"].max, 3) == 15.0


def test_failed_turn_and_signals_are_failures_with_stable_reprs() -> None:
    rec, hook, _ = _recorder()
    rec.turn(_turn("rate_limited"))
    rec.signal("rate_limited_state")
    rec.signal("error_event")
    rec.integrity("gap", 3)
    rec.disconnect("server")
    rec.disconnect("client_abort")  # our own drop: counted, not a failure
    failures = [(r["name"], repr(r["exception"])) for r in hook.rows if r["exception"] is not None]
    assert failures == [
        ("turn", repr(TurnFailed("rate_limited"))),
        ("signal", repr(Throttled("rate_limited_state"))),
        ("signal", repr(ServerSignal("error_event"))),
        ("integrity", repr(IntegrityFailure("gap"))),
        ("disconnect", repr(ConnectionLost("server"))),
    ]
    assert repr(Throttled("http_429")) == "Throttled('http_429')"
    c = rec.current.counters
    assert c["failures.turn"] == 1 and c["throttled.rate_limited_state"] == 1 and c["errors.error_event"] == 1
    assert c["gaps"] == 3 and c["disconnects.server"] == 1 and c["disconnects.client_abort"] == 1
    assert "turn" not in rec.current.hists
    assert all(r["response_time"] is None for r in hook.rows if r["name"] in ("signal", "integrity", "disconnect"))


def test_connect_rest_reconnect() -> None:
    rec, hook, _ = _recorder()
    rec.connected(ConnectResult(12.5, 3, 400, 1.0, 1.0125))
    rec.connect_failed(HandshakeRejected(429, 1.0), started_at=0.0)
    rec.rest("create", RestResult(200, 4.0, {}, None, None, True))
    rec.rest("create", RestResult(429, 2.0, {}, 1.0, "http_429", False))
    rec.rest("events", RestResult(200, 1.0, {}, None, None, True))
    rec.reconnected(ReconnectResult(True, 2, 40.0, 55.0, 5))
    names = [(r["name"], repr(r["exception"]) if r["exception"] else None) for r in hook.rows]
    assert names == [
        ("connect", None),
        ("connect", "HandshakeRejected(status=429)"),
        ("rest_create", None),
        ("rest_create", "RestFailed('HTTP 429')"),
        ("reconnect", None),
        ("resync", None),
    ]
    c = rec.current.counters
    assert c["connects"] == 4 and c["rest_calls"] == 3 and c["reconnects"] == 1 and c["failures.connect"] == 2
    assert hook.rows[0]["response_length"] == 400


def test_seconds_roll_with_gauges_and_health() -> None:
    rec, _, clock = _recorder()
    rec.event(100)
    rec.event(50)
    clock.t = 1001.1
    rec.event(10)  # a new second closes the previous one
    slices, through = rec.take_closed()
    assert [s.second for s in slices] == [1000] and through == 1000
    assert slices[0].counters == {"events": 2, "bytes": 150}
    assert slices[0].gauges["users"] == 7 and len(slices[0].health) == 1
    rec.roll(final=True)
    slices, through = rec.take_closed()
    assert [s.second for s in slices] == [1001] and through == 1001
    assert rec.totals == {"events": 3, "bytes": 160}


def test_bottleneck_warning_needs_a_sustained_problem_and_is_rate_limited(caplog: Any) -> None:
    from loadtest.harness.health import BottleneckWarning

    w = BottleneckWarning(lag_limit_ms=50.0, sustain=3, every=30.0)
    assert not w.update(0, 80.0, 10.0) and not w.update(1, 80.0, 10.0)
    assert not w.update(2, 10.0, 10.0)  # a good second resets it
    assert not w.update(3, 10.0, 95.0) and not w.update(4, 60.0, 10.0)
    with caplog.at_level("WARNING"):
        assert w.update(5, 60.0, 10.0)
    assert "load generator is the bottleneck" in caplog.text and "--processes" in caplog.text
    assert not w.update(6, 90.0, 99.0)  # at most one warning per 30 s
    assert w.update(40, 90.0, 99.0) and w.warnings == 2


def test_failed_rest_calls_are_counted_by_status_class_and_retried_ones_are_not_failures() -> None:
    from loadtest.harness.metrics import rest_error_key

    rec, hook, _ = _recorder()
    rec.rest("events", RestResult(0, 5.0, None, None, None, False, cause="connect refused (127.0.0.1:9)"))
    rec.rest("events", RestResult(404, 1.0, {}, None, None, False))
    rec.rest("ready", RestResult(503, 1.0, {}, None, None, False))
    rec.rest_retried(RestResult(429, 1.0, {}, 1.0, "http_429", False))
    c = rec.current.counters
    assert c["errors.rest_events_no_answer"] == 1 and c["errors.rest_events_4xx"] == 1
    assert c["errors.rest_ready_5xx"] == 1 and c["rest_calls"] == 4 and c["rest_retries"] == 1
    assert rest_error_key("events", 429) == "errors.rest_events_429"
    assert not [r for r in hook.rows if r["exception"] is not None]  # counted per second, not Locust rows
