"""The fault schedule, fault responses and settings validation (pure)."""

from __future__ import annotations

import pytest

from loadtest.mockllm.schedule import Fault, FaultSchedule
from loadtest.mockllm.settings import FaultPlan, MockSettings, is_safe_command


def _run(plan: FaultPlan, n: int, *, agent_call: bool = True) -> list[bool]:
    schedule = FaultSchedule(plan)
    return [schedule.decide(agent_call=agent_call) is not None for _ in range(n)]


def test_every_nth_call_fails() -> None:
    assert _run(FaultPlan(every=3), 9) == [False, False, True] * 3


def test_share_is_seeded_and_roughly_right() -> None:
    a = _run(FaultPlan(share=0.25, seed=7), 2000)
    assert a == _run(FaultPlan(share=0.25, seed=7), 2000)
    assert a != _run(FaultPlan(share=0.25, seed=8), 2000)
    assert 400 < sum(a) < 600


def test_disabled_plan_never_fails() -> None:
    assert not any(_run(FaultPlan(), 100))
    assert not FaultPlan().enabled and FaultPlan(every=2).enabled


def test_agent_scope_spares_tool_less_calls_and_does_not_count_them() -> None:
    schedule = FaultSchedule(FaultPlan(every=2))
    outcomes = [schedule.decide(agent_call=agent) is not None for agent in (True, False, False, True, True, True)]
    assert outcomes == [False, False, False, True, False, True]
    assert _run(FaultPlan(every=1, scope="all"), 3, agent_call=False) == [True, True, True]


def test_429_fault_response() -> None:
    fault = Fault(429, 2.0)
    assert fault.outcome == "rate_limited"
    assert fault.headers() == {"Retry-After": "2"}
    assert Fault(429, 0.5).headers() == {"Retry-After": "0.5"}
    assert Fault(429, None).headers() == {}
    assert fault.body()["error"]["type"] == "rate_limit_exceeded"
    server = Fault(503, 2.0)
    assert server.outcome == "error" and server.headers() == {} and server.body()["error"]["type"] == "server_error"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"every": -1},
        {"share": 1.5},
        {"status": 200},
        {"retry_after": -1.0},
        {"scope": "title"},
        {"every": 2.5},
        {"share": "x"},
    ],
)
def test_bad_fault_plans_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FaultPlan(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["ls", "echo", "echo hello from the mock LLM", "echo a-b_c.d, e: f"])
def test_safe_commands(command: str) -> None:
    assert is_safe_command(command)
    MockSettings(bash_command=command)


@pytest.mark.parametrize(
    "command",
    ["rm -rf /", "echo hi; rm x", "echo $(id)", "echo `id`", "echo hi > f", "ls -la /", "echo a && ls", "ls\n", ""],
)
def test_unsafe_commands_are_refused(command: str) -> None:
    assert not is_safe_command(command)
    with pytest.raises(ValueError, match="bash-command"):
        MockSettings(bash_command=command)


@pytest.mark.parametrize(
    "kwargs", [{"latency_ms": -1.0}, {"tokens_per_second": -1.0}, {"pad_tokens": -1}, {"model": ""}]
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        MockSettings(**kwargs)  # type: ignore[arg-type]
