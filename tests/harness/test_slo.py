"""SLO expressions: parsing, errors that teach, evaluation over merged data."""

from __future__ import annotations

import pytest

from loadtest.harness.slo import BreachTracker, SloError, evaluate, parse_slo, parse_slos
from loadtest.timeline import Second as Slice


def _data() -> Slice:
    s = Slice(0)
    for v in range(1, 101):  # echo 1..100 ms
        s.record("echo", float(v))
    s.record("turn", 4000.0)
    s.count("actions", 200)
    s.count("connects", 10)
    s.count("rest_calls", 10)
    s.count("throttled.http_429", 2)
    s.count("throttled.handshake_429", 1)
    s.count("failures.connect", 3)
    s.count("disconnects.server", 1)
    return s


@pytest.mark.parametrize(
    ("expr", "value", "ok"),
    [
        ("echo.p95<250ms", 95.0, True),
        ("echo.p50<=50", 50.0, True),
        ("echo.max<0.09s", 100.0, False),
        ("echo.mean<60ms", 50.5, True),
        ("echo.count>=100", 100.0, True),
        ("turn.p99<5s", 4000.0, True),
        ("throttled.ratio<1%", 3 / 220, False),
        ("throttled.ratio<2%", 3 / 220, True),
        ("throttled<5", 3.0, True),
        ("throttled.http_429==2", 2.0, True),
        ("gaps==0", 0.0, True),
        ("connect.failures<5", 3.0, True),
        ("connect.fail_ratio<50%", 1.0, False),
        ("disconnects.server==0", 1.0, False),
        ("actions>100", 200.0, True),
    ],
)
def test_evaluate(expr: str, value: float, ok: bool) -> None:
    (result,) = evaluate(parse_slos([expr]), _data())
    assert result.value == pytest.approx(value, rel=0.011)
    assert result.ok is ok
    assert result.to_dict()["expr"] == expr


def test_latency_without_samples_is_a_breach() -> None:
    (result,) = evaluate(parse_slos(["reconnect.p95<1s"]), _data())
    assert result.value is None and not result.ok
    assert result.to_dict()["detail"] == "no samples"


def test_several_in_one_value_and_co_metrics() -> None:
    slos = parse_slos(["echo.p95<250ms; gaps==0", "turn_co.p99.9<10s"])
    assert [s.expr for s in slos] == ["echo.p95<250ms", "gaps==0", "turn_co.p99.9<10s"]
    assert slos[2].threshold == 10_000.0 and slos[2].stat == "p99.9"


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("echo.p95", "TARGET OP VALUE"),
        ("ech.p95<1s", "unknown metric or counter 'ech'"),
        ("echo<1s", "statistic"),
        ("echo.p95<fast", "bad value 'fast'"),
        ("echo.p0<1s", "percentiles"),
        ("echo.median<1s", "unknown statistic"),
        ("gaps.p95<1", "counter"),
    ],
)
def test_bad_expressions_name_the_option_and_show_an_example(expr: str, needle: str) -> None:
    with pytest.raises(SloError) as info:
        parse_slo(expr)
    message = str(info.value)
    assert message.startswith(f"--slo {expr!r}")
    assert needle in message
    assert "echo.p95<250ms" in message


def test_breach_tracker_needs_a_sustained_breach() -> None:
    slo = parse_slo("echo.p95<10ms")
    bad, good = Slice(0), Slice(0)
    bad.record("echo", 50.0)
    good.record("echo", 5.0)
    tracker = BreachTracker(hold=3.0)
    assert not tracker.update(0.0, evaluate([slo], bad))
    assert not tracker.update(2.0, evaluate([slo], bad))
    assert not tracker.update(2.5, evaluate([slo], good))  # a break resets it
    assert not tracker.update(3.0, evaluate([slo], bad))
    assert not tracker.update(5.5, evaluate([slo], bad))
    assert tracker.update(6.0, evaluate([slo], bad))
    # no samples in the live window is not a breach
    assert not BreachTracker(0.0).update(0.0, evaluate([slo], Slice(0)))
