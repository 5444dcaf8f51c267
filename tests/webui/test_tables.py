"""The Conversations tab's rows: order, sections, figures from our histograms, SLO status."""

from __future__ import annotations

import pytest

from loadtest.harness.slo import evaluate, parse_slos
from loadtest.harness.webui.tables import CONVERSATION_COLUMNS, conversation_rows
from loadtest.timeline import Second as Slice


def _total() -> Slice:
    s = Slice(0)
    for v in (10.0, 20.0, 30.0, 147.0):
        s.record("echo", v)
    s.record("connect", 5.0)
    s.record("echo_co", 40.0)
    s.count("failures.echo", 2)
    s.count("failures.turn", 1)  # a metric with failures only
    s.count("actions", 7)
    s.count("events", 30)
    s.count("gaps", 1)
    s.count("throttled.http_429", 4)
    s.count("throttled.handshake_429", 1)
    s.count("disconnects.server", 2)
    s.count("reconnects", 2)
    return s


def _by(rows: list[dict[str, object]], section: str, item: str) -> dict[str, object]:
    (row,) = [r for r in rows if r["section"] == section and r["item"] == item]
    return row


def test_rows_keep_their_order_and_have_every_column() -> None:
    total = _total()
    recent = Slice(0)
    recent.record("echo", 30.0)
    recent.count("actions", 3)
    rows = conversation_rows(total, recent, {"users": 3, "conversations": 3, "sockets": 2, "turns_in_flight": 1}, None)
    assert all("name" not in r for r in rows)  # Locust's UI would sort rows by "name"
    assert all(set(r) == {k for k, _ in CONVERSATION_COLUMNS} for r in rows)
    sections = [r["section"] for r in rows]
    order = ["live", "latency", "stream", "throttle", "reconnect", "errors", "SLO"]
    assert sorted(set(sections), key=order.index) == [s for i, s in enumerate(sections) if s not in sections[:i]]
    assert [r["item"] for r in rows if r["section"] == "latency"] == ["connect", "echo", "turn", "echo_co"]
    echo = _by(rows, "latency", "echo")
    assert echo["count"] == 4 and echo["failures"] == 2 and echo["recent"] == "30.0"
    assert float(str(echo["p50"])) == pytest.approx(20.0, rel=0.01)
    assert echo["max"] == "147.0"  # the exact maximum, not a rounded bucket
    assert _by(rows, "latency", "turn")["count"] == 0 and _by(rows, "latency", "turn")["failures"] == 1
    assert _by(rows, "latency", "echo_co")["failures"] == ""
    assert _by(rows, "live", "conversations open")["count"] == 3
    assert _by(rows, "live", "sockets connected")["count"] == 2
    assert _by(rows, "live", "turns in flight")["count"] == 1
    assert _by(rows, "stream", "actions")["count"] == 7 and _by(rows, "stream", "actions")["recent"] == 3
    assert _by(rows, "stream", "gaps")["count"] == 1
    assert _by(rows, "throttle", "throttled (all)")["count"] == 5
    assert _by(rows, "throttle", "http_429")["count"] == 4
    assert _by(rows, "reconnect", "reconnects")["count"] == 2
    assert _by(rows, "reconnect", "server")["count"] == 2
    assert _by(rows, "errors", "no errors")["count"] == 0
    assert _by(rows, "SLO", "status")["detail"] == "no run yet"


def test_slo_status_rows() -> None:
    total = _total()
    results = evaluate(parse_slos(["echo.p95<250ms", "gaps==0", "throttled.ratio<1%", "turn.p50<1s"]), total)
    rows = conversation_rows(total, Slice(0), {}, results, workers=2)
    status = _by(rows, "SLO", "status")
    assert status["count"] == "FAIL" and str(status["detail"]).startswith("3 of 4")
    assert _by(rows, "SLO", "echo.p95<250ms")["detail"] == "ok"
    assert _by(rows, "SLO", "gaps==0") == {**_by(rows, "SLO", "gaps==0"), "count": "1", "detail": "BREACH"}
    assert _by(rows, "SLO", "turn.p50<1s")["count"] == "no samples"
    assert str(_by(rows, "SLO", "throttled.ratio<1%")["count"]).endswith("%")
    assert _by(rows, "live", "workers reporting")["count"] == 2
    no_slo = conversation_rows(total, Slice(0), {}, [])
    assert _by(no_slo, "SLO", "status")["detail"] == "no --slo objectives set"


def test_default_objectives_are_shown_as_such() -> None:
    results = evaluate(parse_slos(["gaps==0"]), _total())
    rows = conversation_rows(_total(), Slice(0), {}, results, slo_source="default")
    assert "default objectives" in str(_by(rows, "SLO", "status")["detail"])
    rows = conversation_rows(_total(), Slice(0), {}, [], slo_source="none")
    assert _by(rows, "SLO", "status")["detail"] == "no objectives (--slo none)"
