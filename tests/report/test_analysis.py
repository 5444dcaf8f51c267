"""The pure maths on plain data: steps, steady state, percentiles, throughput, throttle onset, capacity,
SLO expressions, recovery, generator health, redaction."""

from __future__ import annotations

import math

import pytest

from loadtest.report.analysis import (
    default_window_s,
    health_windows,
    merge_metrics,
    recovery,
    step_stats,
    throughput,
    windows,
)
from loadtest.report.assemble import redact
from loadtest.report.capacity import capacity, find_knee
from loadtest.report.slo import evaluate, parse_slo, split_exprs
from loadtest.report.steps import find_steps, steady_seconds
from loadtest.report.throttle import first_onset, throttle_onsets
from loadtest.timeline import Second
from tests.report.helpers import second


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


# -- steps -------------------------------------------------------------------------------------------------------


def test_steps_from_run_json_with_exclusive_end() -> None:
    secs = [second(t, users=5 if t < 10 else 10) for t in range(20)]
    steps = find_steps(
        secs,
        [{"index": 0, "start_t": 0, "end_t": 10, "users": 5}, {"index": 1, "start_t": 10, "end_t": 20, "users": 10}],
    )
    assert [(s.start_t, s.end_t, s.users, s.source) for s in steps] == [(0, 9, 5, "run.json"), (10, 20, 10, "run.json")]


def test_steps_from_the_timeline_step_field() -> None:
    secs = [
        second(t, users=3 if t < 6 else 6, step=0 if t < 6 else 1, offered_rate=2.0 if t < 6 else 4.0)
        for t in range(12)
    ]
    steps = find_steps(secs, [])
    assert [(s.index, s.start_t, s.end_t, s.users, s.offered_rate) for s in steps] == [
        (0, 0, 5, 3, 2.0),
        (1, 6, 11, 6, 4.0),
    ]


def test_steps_inferred_from_user_changes_fold_ramps_into_the_next_step() -> None:
    users = [2] * 10 + [4, 6] + [8] * 10 + [7]  # a 2 s ramp, then a 1 s ramp-down tail
    secs = [second(t, users=u) for t, u in enumerate(users)]
    steps = find_steps(secs)
    assert [(s.start_t, s.end_t, s.users) for s in steps] == [(0, 9, 2), (10, 22, 8)]


def test_steady_seconds_trim_settle_time_and_ramp() -> None:
    users = [1, 2, 3, 4] + [4] * 16
    secs = [second(t, users=u) for t, u in enumerate(users)]
    (step,) = find_steps(secs, [{"start_t": 0, "end_t": 20, "users": 4}])
    steady = steady_seconds(step, secs)
    assert [s.t for s in steady] == list(range(5, 20))  # settle 5 s (≤ a quarter of 20 s); users at target


# -- percentiles and throughput ----------------------------------------------------------------------------------


def test_window_percentiles_match_exact_percentiles_within_one_percent() -> None:
    values = [[10.0 + 3 * t + k for k in range(20)] for t in range(10)]
    secs = [second(t, actions=2, events=10, metrics={"echo": values[t]}) for t in range(10)]
    ws = windows(secs, 5)
    assert [(w.start_t, w.end_t) for w in ws] == [(0, 4), (5, 9)]
    first = [v for t in range(5) for v in values[t]]
    for q, got in (
        (50, ws[0].metrics["echo"].p50_ms),
        (95, ws[0].metrics["echo"].p95_ms),
        (99, ws[0].metrics["echo"].p99_ms),
    ):
        assert got is not None and abs(got - exact(first, q)) / exact(first, q) <= 0.01
    assert ws[0].rates.actions_per_s == 2 and ws[1].rates.events_per_s == 10


def test_throughput_is_totals_per_recorded_second() -> None:
    secs = [second(t, actions=t, events=10 * t, turns=1) for t in range(4)]
    r = throughput(secs)
    assert (r.actions_per_s, r.events_per_s, r.turns_per_s) == (1.5, 15.0, 1.0)
    assert throughput([]).actions_per_s == 0


def test_default_window_grows_with_duration() -> None:
    assert default_window_s(60) == 5 and default_window_s(3600) == 30


# -- throttle onset ----------------------------------------------------------------------------------------------


def _stepped(loads: list[int], signals: dict[int, dict[str, int]], rate: bool = False) -> list[Second]:
    secs = []
    for i, load in enumerate(loads):
        for k in range(10):
            t = 10 * i + k
            secs.append(
                second(
                    t,
                    users=load if not rate else 5,
                    step=i,
                    offered_rate=float(load) if rate else 0.0,
                    actions=load,
                    throttled=signals.get(t, {}),
                )
            )
    return secs


def test_onset_is_the_lowest_load_where_a_signal_passes_the_threshold() -> None:
    # step 1 (users 10): one stray 429 (below min count); step 2 (users 20): 429s at 5 % from t=23
    signals = {12: {"http_429": 1}, 23: {"http_429": 6}, 25: {"http_429": 4}, 35: {"handshake_429": 30}}
    secs = _stepped([5, 10, 20, 40], signals)
    onsets = throttle_onsets(step_stats(find_steps(secs), secs))
    by = {o.signal: o for o in onsets}
    assert by["http_429"].users == 20 and by["http_429"].at_s == 23 and by["http_429"].step_index == 2
    assert by["http_429"].load_kind == "users" and by["http_429"].offered_rate == 20.0  # measured actions/s
    assert by["handshake_429"].users == 40
    first = first_onset(onsets)
    assert first is not None and first.signal == "http_429"


def test_onset_by_offered_rate_when_the_shape_sets_one() -> None:
    secs = _stepped([2, 4, 8], {25: {"rate_limited_state": 5}}, rate=True)
    (onset,) = throttle_onsets(step_stats(find_steps(secs), secs))
    assert onset.load_kind == "offered_rate" and onset.offered_rate == 8.0 and onset.at_s == 25


def test_no_throttling_means_no_onset() -> None:
    secs = _stepped([5, 10], {})
    assert throttle_onsets(step_stats(find_steps(secs), secs)) == []
    assert first_onset([]) is None


# -- SLO expressions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "kind", "subject", "stat", "op", "threshold"),
    [
        ("echo.p95<250ms", "latency", "echo", "p95", "<", 250.0),
        ("turn.p99 <= 30s", "latency", "turn", "p99", "<=", 30000.0),
        ("connect.max<1m", "latency", "connect", "max", "<", 60000.0),
        ("echo.p99.9<500", "latency", "echo", "p99.9", "<", 500.0),  # a bare number is ms
        ("turn.fail_ratio<1%", "ratio", "turn", "fail_ratio", "<", 0.01),
        ("throttled.ratio<0.02", "ratio", "throttled", "ratio", "<", 0.02),  # a bare ratio
        ("gaps==0", "count", "gaps", "value", "==", 0.0),
        ("disconnects.server!=3", "count", "disconnects.server", "value", "!=", 3.0),
        ("echo.count>=100", "count", "echo", "count", ">=", 100.0),
    ],
)
def test_slo_expressions_parse_like_the_harness(
    expr: str, kind: str, subject: str, stat: str, op: str, threshold: float
) -> None:
    slo = parse_slo(expr)
    assert slo is not None
    assert (slo.kind, slo.subject, slo.stat, slo.op) == (kind, subject, stat, op)
    assert slo.threshold == pytest.approx(threshold)


@pytest.mark.parametrize(
    "expr", ["echo p95 under 3", "echo.p95<fast", "nosuch.p95<1s", "gaps.count==0", "echo.median<1"]
)
def test_unknown_slo_forms_are_not_parsed(expr: str) -> None:
    assert parse_slo(expr) is None


def test_split_exprs_accepts_commas_and_semicolons() -> None:
    assert split_exprs(["echo.p95<1s, gaps==0", "turn.p99<5s;throttled.ratio<1%"]) == [
        "echo.p95<1s",
        "gaps==0",
        "turn.p99<5s",
        "throttled.ratio<1%",
    ]


def test_slo_evaluation_over_seconds() -> None:
    secs = [
        second(
            t,
            actions=10,
            metrics={"echo": [100.0] * 9 + [400.0], "connect": [5.0]},
            throttled={"http_429": 1} if t == 0 else {},
            disconnects={"server": 2},
            failures={"echo": 1},
        )
        for t in range(4)
    ]
    value, ok = evaluate(parse_slo("echo.p95<250ms"), secs)  # type: ignore[arg-type]
    assert ok is False and value == pytest.approx(400, rel=0.01)
    value, ok = evaluate(parse_slo("throttled.ratio<1%"), secs)  # type: ignore[arg-type]
    assert value == pytest.approx(1 / 44) and ok is False  # operations: 40 actions + 4 connects
    assert evaluate(parse_slo("echo.fail_ratio<5%"), secs) == (pytest.approx(4 / 44), False)  # type: ignore[arg-type]
    assert evaluate(parse_slo("disconnects.server==8"), secs) == (8.0, True)  # type: ignore[arg-type]
    assert evaluate(parse_slo("disconnects<9"), secs) == (8.0, True)  # type: ignore[arg-type]
    assert evaluate(parse_slo("turn.p95<1s"), secs) == (None, False)  # type: ignore[arg-type]  # no samples: breach


def test_the_connects_counter_wins_over_connect_samples() -> None:
    from loadtest.timeline import from_line as parse_second

    explicit = parse_second({"t": 0, "counters": {"actions": 2, "connects": 5, "rest_calls": 1, "reconnects": 3}})
    assert explicit.operations == 8 and explicit.extra == {"reconnects": 3}
    parsed = parse_second(
        {
            "t": 0,
            "counters": {"actions": 2, "failures": {"connect": 1}},
            "metrics": {"connect": {"n": 2, "sum": 3, "min": 1, "max": 2, "b": {"0": 1, "35": 1}}},
        }
    )
    assert parsed.connects == 3 and parsed.operations == 5


# -- capacity ----------------------------------------------------------------------------------------------------


def test_knee_is_where_marginal_throughput_falls_below_half_the_initial_slope() -> None:
    assert find_knee([(5, 2.0), (10, 4.0), (20, 5.0), (40, 5.0)]) == 10
    assert find_knee([(5, 2.0), (10, 4.0), (20, 8.0)]) is None  # still linear: knee not reached
    assert find_knee([(5, 2.0)]) is None


def _closed_loop(x_max: float, think_s: float = 2.0) -> list[Second]:
    """Four steps of a closed-loop chat: throughput N/(W+Z) capped at x_max, turn time grows past the cap."""
    secs = []
    for i, n in enumerate((5, 10, 20, 40)):
        x = min(n / (0.5 + think_s), x_max)
        w_ms = max(0.5, n / x - think_s) * 1000
        for k in range(20):
            t = 20 * i + k
            turns = round(x)  # x is a whole number of turns per second here
            secs.append(
                second(
                    t,
                    users=n,
                    step=i,
                    actions=turns,
                    turns=turns,
                    metrics={"turn": [w_ms] * turns},
                    gauges={"conversations": n, "turns_in_flight": x * w_ms / 1000},
                )
            )
    return secs


def test_capacity_finds_the_knee_and_the_largest_count_within_the_slo() -> None:
    secs = _closed_loop(x_max=5.0)
    cap = capacity(step_stats(find_steps(secs), secs), secs, ["turn.p95<3s"])
    assert cap is not None
    assert cap.knee == 10 and cap.max_within_slo == 20  # W at 20 = 2 s; at 40 = 6 s
    assert cap.throughput_unit == "turns/s" and cap.key_metric == "turn" and cap.key_threshold_ms == 3000
    assert [p.within_slo for p in cap.points] == [True, True, True, False]
    for p in cap.points:  # Little's law holds on consistent data
        assert p.littles_ratio == pytest.approx(1.0, rel=0.05)


def test_capacity_uses_default_slos_and_needs_two_concurrencies() -> None:
    secs = _closed_loop(x_max=5.0)
    cap = capacity(step_stats(find_steps(secs), secs), secs, [])
    assert cap is not None and "failures.ratio<1%" in cap.slo and cap.max_within_slo == 40
    one = [s for s in secs if s.t < 20]
    assert capacity(step_stats(find_steps(one), one), one, []) is None


# -- recovery, health, redaction ---------------------------------------------------------------------------------


def test_recovery_distributions_and_counts() -> None:
    secs = [
        second(0, disconnects={"server": 3, "client": 5}),
        second(1, metrics={"reconnect": [1000.0, 2000.0], "resync": [1500.0, 2600.0]}, failures={"reconnect": 1}),
    ]
    rec = recovery(secs)
    assert rec.disconnects == 3 and rec.reconnect.count == 2 and rec.reconnect_failures == 1
    assert rec.recovered_ratio == pytest.approx(2 / 3)
    assert rec.resync.max_ms == 2600.0
    assert merge_metrics(secs)["reconnect"].count == 2


def test_generator_health_windows_merge_consecutive_flagged_seconds() -> None:
    lags = [1, 80, 90, 2, 3, 1, 1]
    cpus = [10, 10, 10, 10, 95, 10, 10]
    secs = [
        second(t, health={"loop_lag_ms": lag, "cpu_percent": cpu})
        for t, (lag, cpu) in enumerate(zip(lags, cpus, strict=True))
    ]
    ws = health_windows(secs)
    assert [(w.start_t, w.end_t) for w in ws] == [(1, 2), (4, 4)]
    assert ws[0].max_loop_lag_ms == 90 and ws[1].max_cpu_percent == 95


def test_redaction_of_secret_settings_and_url_parameters() -> None:
    run = {
        "settings": {
            "session_api_key": "sk-1",
            "Authorization": "Bearer x",
            "cookies": {"a": "b"},
            "users": 3,
            "nested": {"token": "t"},
        },
        "target": "http://h:3000/?session_api_key=sk-1&x=2",
    }
    red = redact(run)
    text = repr(red)
    assert "sk-1" not in text and "Bearer" not in text and "'b'" not in text and "'t'" not in text
    assert red["settings"]["users"] == 3 and red["target"].endswith("x=2")
