"""Step and search maths (loadtest.harness.steps) on plain numbers: no Locust, no server."""

from __future__ import annotations

import pytest

from loadtest.harness.steps import PlannedStep as Step
from loadtest.harness.steps import StepSearch, Tick, parse_steps, ramp_at, spike_at, step_at


def test_parse_steps_defaults_and_durations() -> None:
    assert parse_steps("10, 20@60s,40", 30.0) == (Step(10, 30.0), Step(20, 60.0), Step(40, 30.0))
    assert parse_steps("5@500ms", 1.0) == (Step(5, 0.5),)


@pytest.mark.parametrize("bad", ["", "x", "10@", "10@-1s", "-5", "10@abc"])
def test_parse_steps_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="10,20"):
        parse_steps(bad, 30.0)


def test_step_at_holds_each_value_then_stops() -> None:
    steps = parse_steps("10,20@5s,40", 10.0)
    assert step_at(0, steps, 3.0) == Tick(10, 3.0, 0)
    assert step_at(9.99, steps, 3.0) == Tick(10, 3.0, 0)
    assert step_at(10, steps, 3.0) == Tick(20, 3.0, 1)
    assert step_at(14.9, steps, 3.0) == Tick(20, 3.0, 1)
    assert step_at(15, steps, 3.0) == Tick(40, 3.0, 2)
    assert step_at(25, steps, 3.0) is None


def test_ramp_interpolates_from_previous_value() -> None:
    steps = parse_steps("100@10s,100@5s,0@10s", 1.0)
    assert ramp_at(0, steps) == Tick(0, 20, 0)  # 10 users/s slope, spawn rate leaves headroom
    assert ramp_at(5, steps).users == 50  # type: ignore[union-attr]
    assert ramp_at(12, steps).users == 100  # type: ignore[union-attr]
    assert ramp_at(20, steps).users == 50  # type: ignore[union-attr]
    assert ramp_at(25, steps) is None


def test_spike_jumps_within_a_second() -> None:
    steps = parse_steps("5@10s,100@3s,5@10s", 1.0)
    assert spike_at(1, steps) == Tick(5, 5.0, 0)
    assert spike_at(11, steps) == Tick(100, 95.0, 1)
    assert spike_at(14, steps) == Tick(5, 95.0, 2)
    assert spike_at(23, steps) is None


def _judge(bad_from: int, ready_at: dict[int, float]) -> object:
    calls: list[tuple[float, float]] = []

    def evaluate(start: float, end: float) -> tuple[bool, dict[str, object]] | None:
        calls.append((start, end))
        index = int(end // 10) - 1
        if now[0] < ready_at.get(index, 0.0):
            return None
        return index < bad_from, {"step": index}

    now = [0.0]
    evaluate.calls = calls  # type: ignore[attr-defined]
    evaluate.now = now  # type: ignore[attr-defined]
    return evaluate


def test_step_search_stops_after_first_failing_step() -> None:
    search = StepSearch(parse_steps("10,20,40,80", 10.0), warmup=2.0)
    judge = _judge(bad_from=2, ready_at={})
    seen = []
    for t in range(60):
        judge.now[0] = t  # type: ignore[attr-defined]
        seen.append(search.advance(float(t), judge))  # type: ignore[arg-type]
    assert seen[:10] == [0] * 10 and seen[10:20] == [1] * 10 and seen[20:30] == [2] * 10
    assert seen[30] is None and search.done
    out = search.outcome()
    assert (out.last_good, out.first_bad) == (1, 2)
    assert judge.calls[0] == (2.0, 10.0)  # type: ignore[attr-defined]
    assert [v.ok for v in search.verdicts] == [True, True, False]


def test_step_search_holds_until_data_is_complete() -> None:
    search = StepSearch(parse_steps("10,20", 10.0), warmup=0.0, max_wait=5.0)
    judge = _judge(bad_from=99, ready_at={0: 13.0})
    indexes = []
    for t in range(30):
        judge.now[0] = t  # type: ignore[attr-defined]
        indexes.append(search.advance(float(t), judge))  # type: ignore[arg-type]
    assert indexes[10:13] == [0, 0, 0]  # held while the first step's data is incomplete
    assert indexes[13] == 1  # the second step starts when the verdict comes in
    assert indexes[23] is None  # ... and lasts its full 10 s
    assert search.outcome().last_good == 1 and search.outcome().first_bad is None


def test_step_search_gives_up_waiting_after_max_wait() -> None:
    search = StepSearch(parse_steps("10", 10.0), warmup=0.0, max_wait=3.0)
    results = [search.advance(float(t), lambda s, e: None) for t in range(20)]
    assert results[12] == 0 and results[13] is None
    assert search.outcome().first_bad == 0


def test_step_search_clock_starts_once_the_load_is_in_place() -> None:
    search = StepSearch(parse_steps("10,20", 10.0), warmup=0.0, max_settle=30.0)
    judged: list[tuple[float, float]] = []

    def evaluate(start: float, end: float) -> tuple[bool, dict[str, object]]:
        judged.append((start, end))
        return True, {}

    for t in range(5):  # users still spawning
        assert search.advance(float(t), evaluate, settled=False) == 0
    for t in range(5, 15):
        assert search.advance(float(t), evaluate, settled=True) == 0
    assert search.advance(15.0, evaluate, settled=True) == 1
    assert judged == [(5.0, 15.0)]
    # a load that never settles does not hold the search forever
    stuck = StepSearch(parse_steps("10", 5.0), warmup=0.0, max_settle=3.0)
    results = [stuck.advance(float(t), evaluate, settled=False) for t in range(12)]
    assert results[-1] is None


def test_held_conversations_is_the_mean_connected_sockets() -> None:
    from loadtest.harness.steps import HELD_SHARE, held_conversations

    assert held_conversations([5.0, 5.0, 5.0, 5.0]) == 5.0
    assert held_conversations([]) == 0.0
    # two of five users backing off for half the window: the server held 4 on average, not 5
    held = held_conversations([5.0, 3.0, 3.0, 5.0])
    assert held == 4.0 and held < HELD_SHARE * 5


def test_step_search_verdicts_are_run_json_rows() -> None:
    from loadtest.harness.steps import StepVerdict

    search = StepSearch(parse_steps("4,8", 10.0), warmup=30.0)
    judged: list[tuple[float, float]] = []

    def evaluate(start: float, end: float) -> tuple[bool, dict[str, object]]:
        judged.append((start, end))
        return True, {"held": 4.0}

    results = [search.advance(float(t), evaluate) for t in range(25)]
    assert results[19] == 1 and results[20] is None and search.done
    assert judged[0] == (5.0, 10.0)  # a warm-up longer than half the step is cut to half of it
    assert search.verdicts[0] == StepVerdict(0, 4.0, True, {"held": 4.0})
    assert search.verdict_dicts() == [
        {"index": 0, "value": 4.0, "ok": True, "held": 4.0},
        {"index": 1, "value": 8.0, "ok": True, "held": 4.0},
    ]
    out = search.outcome()
    assert (out.last_good, out.first_bad) == (1, None)


def test_step_search_without_data_fails_the_step_and_says_so() -> None:
    search = StepSearch(parse_steps("4,8", 5.0), warmup=0.0, max_wait=2.0)
    results = [search.advance(float(t), lambda s, e: None) for t in range(10)]
    assert results[6] == 0 and results[7] is None
    assert search.verdict_dicts() == [{"index": 0, "value": 4.0, "ok": False, "error": "no data for the step"}]
    assert search.outcome().detail == {"error": "no data for the step"}
    assert search.advance(30.0, lambda s, e: (True, {})) is None  # a finished search stays finished


def test_throttle_judgement_names_the_main_signal() -> None:
    from loadtest.harness.steps import throttle_judgement

    ok, detail = throttle_judgement({"http_429": 1, "ws_refused": 0}, 200, 0.01)
    assert ok and detail == {"actions": 200, "throttled": 1, "throttle_ratio": 0.005, "signal": "http_429"}
    ok, detail = throttle_judgement({"http_429": 1, "http_delayed": 4}, 100, 0.01)
    assert not ok and detail["signal"] == "http_delayed" and detail["throttle_ratio"] == 0.05
    ok, detail = throttle_judgement({}, 0, 0.01)  # nothing sent, nothing throttled: not a failure
    assert ok and detail["signal"] is None and detail["throttle_ratio"] == 0.0


def _finished_search(bad_from: int) -> StepSearch:
    search = StepSearch(parse_steps("10,20,40", 10.0), warmup=0.0)
    for t in range(40):
        index = search.index
        verdict = (index < bad_from, {"signal": "http_429", "throttle_ratio": 0.2} if index >= bad_from else {})
        search.advance(float(t), lambda s, e, v=verdict: v)
    return search


def test_capacity_result_names_the_last_good_and_first_failing_counts() -> None:
    from loadtest.harness.steps import capacity_result

    result = capacity_result(_finished_search(bad_from=2), ["turn.p95<2s"])
    assert result["max_conversations_within_slo"] == 20 and result["first_failing_conversations"] == 40
    assert result["slo"] == ["turn.p95<2s"] and [s["ok"] for s in result["steps"]] == [True, True, False]
    none_good = capacity_result(_finished_search(bad_from=0), [])
    assert none_good["max_conversations_within_slo"] == 0 and none_good["first_failing_conversations"] == 10
    all_good = capacity_result(_finished_search(bad_from=9), [])
    assert all_good["max_conversations_within_slo"] == 40 and all_good["first_failing_conversations"] is None


def test_throttle_onset_is_the_first_throttled_second_of_the_failing_step() -> None:
    from loadtest.harness.steps import throttle_onset

    search = _finished_search(bad_from=1)
    seconds = [(5.0, 1.0), (10.0, 0.0), (11.0, 0.0), (12.0, 3.0), (13.0, 5.0)]
    onset = throttle_onset(search, 10.0, seconds)
    assert onset == {
        "offered_rate": 20.0,
        "signal": "http_429",
        "at_s": 12.0,
        "throttle_ratio": 0.2,
        "step_start_s": 10.0,
    }
    assert throttle_onset(search, 10.0, [])["at_s"] == 10.0  # type: ignore[index]
    assert throttle_onset(_finished_search(bad_from=9), 0.0, seconds) is None
