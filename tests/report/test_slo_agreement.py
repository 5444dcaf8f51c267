"""The live gate, the exit code and the report compute every SLO value with the same measure.

For every committed run fixture, each objective (the run's own, the defaults, and one per name of the
grammar) is measured as the harness does it (its seconds in order, their merge kept as the run goes,
the live window of the last seconds) and as the report does it (the seconds read back from
``timeline.jsonl``); the values must be equal, including ``throttled.ratio`` on runs whose lines carry
no ``connects`` counter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.harness.slo import evaluate
from loadtest.report import build_report
from loadtest.report.slo import evaluate as report_evaluate
from loadtest.slo import DEFAULT_SLOS, parse_slo
from loadtest.timeline import COUNTER_GROUPS, EXTRA_COUNTERS, TOP_COUNTERS, Second, parse_lines, window
from tests.report.helpers import RUNS, copy_run

FIXTURES = sorted(p.name for p in RUNS.iterdir() if (p / "timeline.jsonl").exists())
EXPRS = (
    *DEFAULT_SLOS,
    "throttled.ratio<1%",
    "echo.p95<250ms",
    "turn.p99<5s",
    "connect.fail_ratio<1%",
    "connect.failures<5",
    "errors<1",
    *(f"{n}>=0" for n in (*TOP_COUNTERS, *EXTRA_COUNTERS, *COUNTER_GROUPS, "operations")),
)


def _seconds(name: str) -> list[Second]:
    seconds, _ = parse_lines((RUNS / name / "timeline.jsonl").read_text(encoding="utf-8").splitlines())
    return seconds


def _exprs(name: str) -> list[str]:
    run = json.loads((RUNS / name / "run.json").read_text(encoding="utf-8"))
    return [*EXPRS, *(str(s["expr"]) for s in run.get("slo") or [])]


@pytest.mark.parametrize("name", FIXTURES)
def test_live_gate_and_report_agree_on_every_slo_value(name: str) -> None:
    seconds = _seconds(name)
    assert seconds
    total = Second(0)  # the harness merges each second into its running total as it writes it
    for s in seconds:
        total.merge(s)
    slos = [parse_slo(e) for e in _exprs(name)]
    gate_at_quit = evaluate(slos, seconds, merged=total)
    live = evaluate(slos, seconds[-10:])
    for slo, at_quit, live_r in zip(slos, gate_at_quit, live, strict=True):
        value, ok = report_evaluate(slo, seconds)
        assert at_quit.value == value and at_quit.ok == ok, slo.expr
        window_value, _ = report_evaluate(slo, seconds[-10:])
        assert live_r.value == window_value, slo.expr
    # the fallback for lines without a "connects" counter is one definition, per second or merged
    assert window(seconds).operations == sum(s.operations for s in seconds)


@pytest.mark.parametrize("name", FIXTURES)
def test_a_rebuilt_report_gives_the_values_the_run_exited_with(name: str, tmp_path: Path) -> None:
    """The report re-measures a run's objectives from its timeline and finds the harness's values."""
    folder = copy_run(name, tmp_path)
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    seconds = _seconds(name)
    exited = {r.expr: r.to_dict() for r in evaluate([parse_slo(e) for e in _exprs(name)], seconds)}
    run["slo"] = []  # the report must measure them itself
    run["settings"] = {**(run.get("settings") or {}), "slo": list(exited)}
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    summary = json.loads(build_report(folder).summary_json.read_text(encoding="utf-8"))
    rebuilt = {s["expr"]: s for s in summary["slo"]}
    assert set(rebuilt) == set(exited)
    for expr, r in exited.items():
        assert rebuilt[expr]["value"] == r["value"] and rebuilt[expr]["ok"] == r["ok"], expr
