"""Recorder with V1 turns and callbacks: ttft and token_gap rows, deltas apart from events, V1 signals and
integrity kinds classified (throttles, refusals, expected copies counted but never failed)."""

from __future__ import annotations

from typing import Any

from loadtest.harness.failures import IntegrityFailure, ServerSignal, Throttled
from loadtest.harness.metrics import MetricsListener, Recorder
from loadtest.openhands.v1.events import V1Kind
from loadtest.openhands.v1.turns import Turn


class Hook:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def fire(self, **kwargs: Any) -> None:
        self.rows.append(kwargs)


def _recorder() -> tuple[Recorder, Hook]:
    hook = Hook()
    return Recorder(hook, clock=lambda: 1000.2), hook


def test_v1_turn_gives_ttft_and_token_gap_rows() -> None:
    rec, hook = _recorder()
    t = Turn(sent_at=10.0, intended_at=9.99, echo_at=10.005, first_agent_at=10.060, end_at=10.080)
    t.end_state, t.first_token_at, t.token_gaps_ms, t.gaps_ms = "finished", 10.040, [5.0, 7.0, 6.0], [10.0]
    rec.turn(t)
    rows = {r["name"]: r for r in hook.rows}
    assert set(rows) == {"echo", "first_event", "event_gap", "ttft", "token_gap", "turn"}
    assert all(r["exception"] is None for r in hook.rows)
    assert round(rows["ttft"]["response_time"], 3) == 40.0 and rows["token_gap"]["response_time"] == 7.0
    s = rec.current
    assert s.hists["token_gap"].count == 3 and round(s.hists["ttft_co"].max, 3) == 50.0
    assert s.counters == {"turns": 1}


def test_v1_idle_end_is_good_and_no_stream_means_no_token_rows() -> None:
    rec, hook = _recorder()
    t = Turn(sent_at=10.0, echo_at=10.005, first_agent_at=10.030, end_at=10.050)
    t.end_state = "idle"
    rec.turn(t)
    assert {r["name"] for r in hook.rows} == {"echo", "first_event", "turn"}
    assert "ttft" not in rec.current.hists and "failures.turn" not in rec.current.counters


def test_v1_callbacks_counted_apart_and_classified() -> None:
    rec, hook = _recorder()
    lst = MetricsListener(rec)
    conv: Any = None
    lst.on_event(conv, V1Kind.ACTION, 300, 1.0)
    for _ in range(4):
        lst.on_event(conv, V1Kind.STREAMING_DELTA, 50, 1.0)
    for kind in ("overlap", "interleaved", "filled", "stale"):
        lst.on_integrity(conv, kind, 2)
    lst.on_integrity(conv, "missing_snapshot", 1)
    for signal in ("socket_cap", "run_limit", "concurrency_limit", "auth_failed", "unknown_conversation"):
        lst.on_signal(conv, signal)
    c = rec.current.counters
    assert c["events"] == 1 and c["deltas"] == 4 and c["bytes"] == 500
    assert c["overlap"] == c["interleaved"] == c["filled"] == c["stale"] == 2 and c["missing_snapshot"] == 1
    assert rec.current.group("throttled") == {"socket_cap": 1, "run_limit": 1, "concurrency_limit": 1}
    assert rec.current.group("errors") == {"auth_failed": 1, "unknown_conversation": 1}
    failed = [repr(r["exception"]) for r in hook.rows]
    assert failed == [
        repr(IntegrityFailure("missing_snapshot")),
        repr(Throttled("socket_cap")),
        repr(Throttled("run_limit")),
        repr(Throttled("concurrency_limit")),
        repr(ServerSignal("auth_failed")),
        repr(ServerSignal("unknown_conversation")),
    ]
