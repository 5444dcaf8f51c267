"""The verdict and its one-line reason, decided from plain timeline data."""

from __future__ import annotations

import pytest

from loadtest.slo import DEFAULT_SLOS, check, parse_slos, slos_in_force
from loadtest.timeline import Second
from loadtest.verdict import Verdict, decide

URL = "http://127.0.0.1:9"


def _chat(turns: int, *, turn_failures: int = 0) -> Second:
    s = Second(0)
    for _ in range(turns):
        s.record("turn", 100.0)
        s.record("connect", 5.0)
    s.count("connects", max(turns, 1))
    s.count("actions", turns + turn_failures)
    if turn_failures:
        s.count("failures.turn", turn_failures)
    return s


def _decide(total: Second, exprs: tuple[str, ...] = DEFAULT_SLOS, **kw: object) -> Verdict:
    results = [check(slo, [total]) for slo in parse_slos(exprs)]
    return decide(total, results, profile=kw.pop("profile", ["ChatUser"]), target=URL, **kw)  # type: ignore[arg-type]


def test_a_target_never_reached_is_an_error_naming_the_url_and_the_cause() -> None:
    s = Second(0)
    s.count("failures.rest_create", 18)
    s.count("rest_calls", 18)
    v = _decide(s, top_failure="connect refused (127.0.0.1:9) on rest_create (×18)")
    assert v.verdict == "error" and v.exit_code == 1
    assert URL in v.reason and "never reached" in v.reason and "connect refused (127.0.0.1:9)" in v.reason


def test_a_target_that_refuses_everything_is_an_error_that_says_it_answered() -> None:
    s = Second(0)
    s.count("failures.rest_create", 15)
    why = "HTTP 404 on POST /api/conversations (is --target an OpenHands server?) on rest_create (×15)"
    v = _decide(s, top_failure=why)
    assert v.verdict == "error" and v.exit_code == 1
    assert "never reached" not in v.reason and f"{URL} answered but refused every attempt: {why}" in v.reason


def test_no_turn_completed_is_an_error_even_when_every_slo_holds() -> None:
    s = Second(0)
    s.record("rest_create", 3.0)  # the server answered, but no turn ever completed
    s.count("failures.turn", 4)
    v = _decide(s, ("gaps==0",))
    assert v.verdict == "error" and v.exit_code == 1
    assert "no turn completed" in v.reason and "4 turn(s) failed" in v.reason


def test_idle_users_need_a_connected_conversation_not_a_turn() -> None:
    idle = Second(0)
    idle.record("connect", 4.0)
    idle.count("connects", 1)
    assert _decide(idle, profile=["IdleUser"]).verdict == "pass"
    assert _decide(idle, profile=["ChatUser"]).verdict == "error"
    unconnected = Second(0)
    unconnected.record("rest_create", 3.0)
    unconnected.count("failures.connect", 2)
    v = _decide(unconnected, profile=["IdleUser"])
    assert v.verdict == "error" and "no conversation connected" in v.reason


def test_a_breached_slo_fails_with_the_measured_value() -> None:
    v = _decide(_chat(10, turn_failures=5), slo_source="default")
    assert v.verdict == "fail" and v.exit_code == 3
    assert v.reason.startswith("SLO breached (default objectives): errors.ratio<1% (measured ")


def test_an_outage_is_named_in_the_reason() -> None:
    seconds = []
    for t, sockets in enumerate([2, 2, 0, 0, 0]):
        s = _chat(1) if sockets else Second(0)
        s.t = t
        s.gauges.update(users=2, sockets=sockets, reconnecting=0 if sockets else 2)
        seconds.append(s)
    total = Second(0)
    for s in seconds:
        total.merge(s)
    results = [check(slo, seconds, merged=total) for slo in parse_slos(DEFAULT_SLOS)]
    v = decide(total, results, profile=["ChatUser"], target=URL, slo_source="default")
    assert v.verdict == "fail" and "outage_s==0 (outage: 3 s with every socket down)" in v.reason


def test_pass_says_which_objectives_held() -> None:
    v = _decide(_chat(10), slo_source="default")
    assert v == Verdict("pass", "all 3 default SLO(s) met: errors.ratio<1%, gaps==0, outage_s==0")
    assert v.exit_code == 0
    assert _decide(_chat(3), ()).reason.startswith("no SLO set (--slo none)")
    assert _decide(_chat(3), aborted=True).verdict == "fail"


@pytest.mark.parametrize(
    ("given", "exprs", "source"),
    [
        (None, list(DEFAULT_SLOS), "default"),
        ([], list(DEFAULT_SLOS), "default"),
        (["none"], [], "none"),
        (["echo.p95<1s"], ["echo.p95<1s"], "given"),
        ("gaps==0;turn.p99<5s", ["gaps==0", "turn.p99<5s"], "given"),
    ],
)
def test_slos_in_force(given: object, exprs: list[str], source: str) -> None:
    slos, why = slos_in_force(given)  # type: ignore[arg-type]
    assert [s.expr for s in slos] == exprs and why == source


def test_the_top_failure_is_the_cause_not_the_signal_that_came_with_it() -> None:
    from loadtest.verdict import top_failure_row

    rows = [("signal", 10), ("connect", 10), ("disconnect", 10), ("rest_create", 3)]
    assert top_failure_row(rows, lambda r: r[0], lambda r: r[1]) == ("connect", 10)
    assert top_failure_row([("signal", 11), ("connect", 10)], lambda r: r[0], lambda r: r[1]) == ("signal", 11)
    assert top_failure_row([], lambda r: r[0], lambda r: r[1]) is None
