"""V1's names in the one per-second model: ``ttft``/``token_gap`` metrics and V1 counters parse as SLOs, survive a
``timeline.jsonl`` line, and the report orders them with the others."""

from __future__ import annotations

import pytest

from loadtest.report.analysis import metric_order
from loadtest.slo import SloError, measure, parse_slo
from loadtest.timeline import EXTRA_COUNTERS, METRICS, Second, from_line, to_line


def test_token_metrics_are_metrics_with_co_twins() -> None:
    slo = parse_slo("ttft.p95<2s")
    assert (slo.kind, slo.subject, slo.stat, slo.threshold) == ("latency", "ttft", "p95", 2000.0)
    assert parse_slo("token_gap.p99<=50ms").threshold == 50.0
    assert parse_slo("ttft_co.p50<1s").subject == "ttft_co"
    with pytest.raises(SloError, match="ttft"):  # the error lists the known names, V1's among them
        parse_slo("tokens.p95<1s")


def test_v1_counters_parse_and_round_trip() -> None:
    for name in ("overlap", "interleaved", "missing_snapshot", "deltas", "filled", "stale"):
        assert name in EXTRA_COUNTERS
        assert parse_slo(f"{name}==0").kind == "count"
    s = Second(100, overlap=2, interleaved=3, deltas=40, throttled={"socket_cap": 5, "run_limit": 1})
    for ms in (120.0, 180.0, 900.0):
        s.record("ttft", ms)
    s.record("token_gap", 20.0)
    back = from_line(to_line(s, t=0, step=0, workers=1))
    assert back.counters["overlap"] == 2 and back.counters["interleaved"] == 3 and back.counters["deltas"] == 40
    assert back.group("throttled") == {"socket_cap": 5, "run_limit": 1}
    assert back.hists["ttft"].count == 3 and back.hists["token_gap"].count == 1
    value = measure(parse_slo("ttft.max<2s"), [back])
    assert value is not None and 890.0 <= value <= 910.0


def test_report_orders_token_metrics_after_the_v0_ones() -> None:
    assert METRICS[-2:] == ("ttft", "token_gap")
    assert metric_order(["token_gap", "ttft_co", "ttft", "echo", "zzz"]) == [
        "echo",
        "ttft",
        "ttft_co",
        "token_gap",
        "zzz",
    ]
