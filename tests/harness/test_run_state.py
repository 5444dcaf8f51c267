"""The harness's run state on plain data: steps as run.json records them, the --slo-abort gate, the finish
(verdict and exit codes), the pace interval, and RunSlos's bounded memory (issue 13, items 2)."""

from __future__ import annotations

import json
import sys

import pytest

from loadtest.harness.runstate import AbortGate, History, finish, pace_interval
from loadtest.harness.slo import OutageTrace, RunSlos, evaluate
from loadtest.report.steps import find_steps
from loadtest.slo import parse_slos
from loadtest.steps import StepLog, StepRecord
from loadtest.timeline import Second, outages, parse_lines, to_line
from tests.report.helpers import RUNS

FIXTURES = sorted(p.name for p in RUNS.iterdir() if (p / "timeline.jsonl").exists())


def _fixture_lines(name: str) -> list[dict[str, object]]:
    out = []
    for line in (RUNS / name / "timeline.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a truncated last line, as the report skips it
    return out


# -- steps -------------------------------------------------------------------------------------------


def test_a_new_step_closes_the_previous_one_and_the_same_step_only_updates() -> None:
    log = StepLog()
    log.begin(0, 0, None, None)
    log.begin(0, 1, 10, None)  # the shape names its users a second later: same step, updated
    log.begin(1, 30, 20, 5.0)
    log.begin(1, 31, None, 6.0)  # None keeps the users
    assert log.records == (StepRecord(0, 0, 30, 10, None), StepRecord(1, 30, None, 20, 6.0))
    log.close(60)
    log.close(70)  # an ended step keeps its end
    assert log.records[-1].end_t == 60
    assert [log.at(t) for t in (-1, 0, 29, 30, 59)] == [0, 0, 0, 1, 1]
    assert log.start_of(1) == 30 and log.start_of(7) is None


def test_run_json_steps_are_written_and_read_as_one_record() -> None:
    log = StepLog()
    log.begin(0, 0, 5, None)
    log.begin(1, 20, 10, 2.5)
    rows = log.to_dicts()
    assert rows[0] == {"index": 0, "start_t": 0, "end_t": 20, "users": 5, "offered_rate": None}
    assert [StepRecord.from_dict(json.loads(json.dumps(r))) for r in rows] == list(log.records)
    assert StepRecord.from_dict({"index": 3}) is None  # no start: not a step
    assert StepRecord.from_dict({"start_t": 4, "users": "many"}, position=2) == StepRecord(2, 4)
    steps = find_steps([Second(t=t) for t in range(40)], rows)  # the report resolves the same records
    assert [(s.index, s.start_t, s.end_t, s.users, s.offered_rate) for s in steps] == [
        (0, 0, 19, 5, 0.0),
        (1, 20, 39, 10, 2.5),
    ]


# -- the abort gate ----------------------------------------------------------------------------------


def _judge(expr: str, window: int = 5) -> RunSlos:
    return RunSlos(parse_slos(expr), None, live_window=window)


def _line(t: int, *, actions: int = 10, gaps: int = 0, sockets: int = 1) -> dict[str, object]:
    s = Second(1_000 + t, users=1, actions=actions, gaps=gaps)
    s.gauges["sockets"] = sockets
    return to_line(s, t=t, step=0, workers=1)


def test_the_gate_trips_once_after_a_breach_held_for_the_hold_time() -> None:
    slos = _judge("gaps==0", window=3)
    gate = AbortGate(hold=2.0, window_s=3)
    for t in range(3):
        slos.add(_line(t))
        assert gate.check(float(t), slos) is None
    slos.add(_line(3, gaps=1))
    assert gate.check(3.0, slos) is None  # breached since t=3
    assert gate.check(4.0, slos) is None
    breached = gate.check(5.0, slos)
    assert breached is not None and "gaps==0" in breached and gate.tripped
    assert gate.note(breached).startswith("aborted by --slo-abort after 2s: gaps==0")
    assert gate.check(9.0, slos) is None  # trips once


def test_a_breach_that_leaves_the_window_resets_the_gate() -> None:
    slos = _judge("gaps==0", window=2)
    gate = AbortGate(hold=3.0, window_s=2)
    slos.add(_line(0, gaps=1))
    assert gate.check(0.0, slos) is None
    for t in (1, 2):
        slos.add(_line(t))
    assert gate.check(2.0, slos) is None  # the gap is out of the last 2 s: no breach, the clock resets
    assert gate.check(5.0, slos) is None and not gate.tripped


def test_without_slo_abort_the_gate_never_trips() -> None:
    slos = _judge("gaps==0")
    slos.add(_line(0, gaps=5))
    gate = AbortGate(hold=0, window_s=5)
    assert gate.check(0.0, slos) is None and gate.check(1e9, slos) is None


# -- the finish ----------------------------------------------------------------------------------------


def _worked(expr: str, *, gaps: int = 0) -> RunSlos:
    slos = _judge(expr)
    s = Second(1_000, users=1, actions=5, gaps=gaps)
    s.record("turn", 100.0)
    s.record("connect", 5.0)
    slos.add(to_line(s, t=0, step=0, workers=1))
    return slos


def _finish(slos: RunSlos, **kw: object) -> tuple[str, int | None, int]:
    args: dict[str, object] = dict(
        profile=["ChatUser"], target="ws://127.0.0.1:1", errors={}, aborted=False,
        preset_exit_code=None, runner_failed=False, exit_code_on_error=1,
    )  # fmt: skip
    args.update(kw)
    end = finish(slos, **args)  # type: ignore[arg-type]
    return end.verdict.verdict, end.process_exit_code, end.exit_code


def test_finish_gives_the_verdict_and_the_exit_codes() -> None:
    assert _finish(_worked("gaps==0")) == ("pass", None, 0)
    assert _finish(_worked("gaps==0"), runner_failed=True) == ("pass", None, 1)  # Locust's rule stands
    assert _finish(_worked("gaps==0"), runner_failed=True, exit_code_on_error=0) == ("pass", None, 0)
    assert _finish(_worked("gaps==0"), preset_exit_code=2) == ("pass", 2, 2)  # set earlier (bad options)
    assert _finish(_worked("gaps==0", gaps=1)) == ("fail", 3, 3)
    assert _finish(_worked("gaps==0"), aborted=True, preset_exit_code=3) == ("fail", 3, 3)
    assert _finish(_judge("gaps==0")) == ("error", 1, 1)  # nothing measured
    assert _finish(_judge("gaps==0"), preset_exit_code=2) == ("error", 1, 1)  # the verdict's code wins


def test_pace_interval_spreads_the_rate_over_the_users() -> None:
    assert pace_interval(10.0, 5) == 0.5
    assert pace_interval(None, 5) is None and pace_interval(10.0, 0) is None and pace_interval(0.0, 3) is None


def test_history_windows_wait_for_complete_data() -> None:
    h = History(1_000, size=3)
    for t in range(5):
        h.add(Second(1_000 + t, actions=t))
    assert len(h) == 3 and h.latest is not None and h.latest.second == 1_004
    assert [s.second for s in h.between(3, 5)] == [1_003, 1_004]
    assert h.window(3, 5, complete_through=3) is None
    merged = h.window(3, 5, complete_through=4)
    assert merged is not None and merged.counter("actions") == 7


# -- RunSlos: the run's data without every second -----------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_run_slos_measure_what_the_report_reads_with_a_bounded_window(name: str) -> None:
    """The verdict at quit is measured over the lines as the report parses them, and RunSlos keeps only
    the live window of whole seconds (plus the merge and the compact outage trace)."""
    lines = _fixture_lines(name)
    run = json.loads((RUNS / name / "run.json").read_text(encoding="utf-8"))
    exprs = ["outage_s==0", "errors.ratio<1%", "gaps==0", "echo.p95<250ms", *(s["expr"] for s in run.get("slo") or [])]
    slos = RunSlos(parse_slos(exprs), None, live_window=10)
    for line in lines:
        slos.add(line)
    assert len(slos.recent) == min(10, len(lines))
    seconds, _ = parse_lines(json.dumps(x) for x in lines)
    assert [r.value for r in slos.results()] == [r.value for r in evaluate(slos.slos, seconds)]
    assert [r.value for r in slos.results(last=10)] == [r.value for r in evaluate(slos.slos, seconds[-10:])]
    assert outages(slos.trace) == outages(seconds)


def test_the_outage_trace_finds_an_outage_and_stays_small() -> None:
    trace = OutageTrace()
    full = []
    for t in range(10):
        down = 3 <= t < 6
        s = Second(t=t, users=2, gauges={"sockets": 0 if down else 2, "reconnecting": 2 if down else 0})
        if down or t == 6:
            s.count("failures.connect", 1)
        s.record("echo", 5.0)  # histograms are not kept
        trace.add(s)
        full.append(s)
    assert outages(trace) == outages(full) and [o.duration_s for o in outages(trace)] == [3]
    assert trace[4].hists == {} and trace[-1].t == 9 and [s.t for s in trace[2:4]] == [2, 3]
    with pytest.raises(IndexError):
        trace[10]
    for t in range(10, 86_400):
        trace.add(Second(t=t, users=2, gauges={"sockets": 2}))
    size = sum(sys.getsizeof(a) for a in (trace._t, *trace._gauges.values(), *trace._counters.values()))
    assert size < 12_000_000  # a 24-hour run: bytes, not a Second per second


def test_run_slos_do_not_hold_a_long_run() -> None:
    """Seconds through RunSlos keep at most the live window of whole seconds, and the merged total does not
    grow with them (a merge appends each second's health entry)."""
    slos = _judge("outage_s==0", window=30)
    for t in range(0, 86_400, 97):  # a sample of a day's seconds keeps the test quick
        line = _line(t)
        line["health"] = {"loop_lag_ms": 1.0, "cpu_percent": 5.0, "workers": 1, "lost_workers": 0}
        slos.add(line)
    assert len(slos.recent) == 30 and len(slos.trace) == len(range(0, 86_400, 97))
    assert slos.total.health == [] and slos.total.counter("actions") == 10 * len(slos.trace)
