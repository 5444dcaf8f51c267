"""`poll_ready` on plain data: the frontend's wait for RUNNING, its pauses, 429s, unknown ids and timeouts."""

from __future__ import annotations

from typing import Any

from loadtest.openhands.readiness import poll_ready
from loadtest.openhands.rest import RestResult


def _ok(body: Any) -> RestResult:
    return RestResult(200, 5.0, body, None, None, True)


class Script:
    """Answers in order and a clock that only the sleeps move."""

    def __init__(self, *answers: RestResult) -> None:
        self.answers = list(answers)
        self.now = 100.0
        self.sleeps: list[float] = []
        self.reported: list[RestResult] = []

    def get(self) -> RestResult:
        return self.answers.pop(0)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def run(self, timeout: float = 60.0, longest: float = 3.0) -> Any:
        return poll_ready(self.get, self.reported.append, timeout, longest, clock=lambda: self.now, sleep=self.sleep)


def test_ready_once_running_with_a_runtime_status_pauses_doubling_to_the_longest() -> None:
    starting = _ok({"status": "STARTING", "runtime_status": None})
    no_runtime = _ok({"status": "RUNNING", "runtime_status": None})
    s = Script(starting, starting, starting, no_runtime, _ok({"status": "RUNNING", "runtime_status": "STATUS$READY"}))
    r = s.run()
    assert (r.ok, r.outcome, r.polls, r.status, r.runtime_status) == (True, "ready", 5, "RUNNING", "STATUS$READY")
    assert s.sleeps == [0.5, 1.0, 2.0, 3.0] and r.ready_ms == 6500.0
    assert len(s.reported) == 5  # every poll reported (its throttles are classified there)


def test_a_429_waits_its_retry_after_and_failures_are_retried() -> None:
    throttled = RestResult(429, 1.0, "slow down", 2.0, "http_429", False)
    failed = RestResult(0, 30.0, "ConnectionError", None, None, False)
    s = Script(throttled, failed, _ok({"status": "RUNNING", "runtime_status": "STATUS$READY"}))
    assert s.run().ok and s.sleeps == [2.0, 1.0]


def test_outcomes_that_mean_join_now() -> None:
    stopped = Script(_ok({"status": "STOPPED", "runtime_status": "STATUS$STOPPED"})).run()
    assert (stopped.ok, stopped.outcome, stopped.status) == (False, "not_starting", "STOPPED")
    unknown = Script(_ok(None), _ok(None), _ok(None)).run()
    assert (unknown.outcome, unknown.polls) == ("not_starting", 3)
    assert Script(RestResult(404, 1.0, "Not Found", None, None, False)).run().outcome == "unsupported"
    assert Script(_ok({"title": "no status"})).run().outcome == "unsupported"
    assert Script(_ok(["not", "an", "object"])).run().outcome == "unsupported"


def test_timeout_when_the_next_pause_would_pass_the_deadline() -> None:
    starting = _ok({"status": "STARTING", "runtime_status": None})
    s = Script(*[starting] * 10)
    r = s.run(timeout=4.0, longest=3.0)
    assert (r.ok, r.outcome, r.status) == (False, "timeout", "STARTING")
    assert s.sleeps == [0.5, 1.0, 2.0] and r.polls == 4  # 3.5 s slept; another 3 s would pass 4 s
