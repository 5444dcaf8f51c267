"""HoleAuditor with an injected fetch function: paging, verdicts, retries and their bounds."""

from __future__ import annotations

from typing import Any

from loadtest.openhands.audit import HoleAuditor, HoleBatch, Pacer, pacer
from loadtest.openhands.integrity import PHASE_REPLAY, Integrity
from loadtest.openhands.rest import RestResult


def stored(n: int, state_every: int = 4) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i % state_every == 0:
            out.append({"id": i, "source": "environment", "observation": "agent_state_changed", "extras": {}})
        else:
            out.append({"id": i, "source": "agent", "action": "run", "args": {}})
    return out


class Server:
    def __init__(self, events: list[dict[str, Any]], fail: list[RestResult] | None = None) -> None:
        self.events = events
        self.fail = list(fail or [])
        self.calls: list[tuple[int, int]] = []

    def fetch(self, start: int, limit: int) -> RestResult:
        self.calls.append((start, limit))
        if self.fail:
            return self.fail.pop(0)
        page = [e for e in self.events if start <= e["id"] < start + limit]
        return RestResult(200, 1.0, {"events": page, "has_more": False}, None, None, True)


def tracker_with_holes(ids: list[int], top: int) -> Integrity:
    t = Integrity()
    for i in range(top + 1):
        if i not in ids:
            t.observe(i)
    return t


def test_audit_resolves_and_reports() -> None:
    holes = [4, 5, 8, 150]
    t = tracker_with_holes(holes, 200)
    taken = t.take_holes()
    srv = Server(stored(300))
    reported: list[int] = []
    a = HoleAuditor(t, srv.fetch, reported.append, sleep=lambda s: None)
    assert a.audit(HoleBatch(taken, PHASE_REPLAY)) == (2, 2)
    assert srv.calls == [(4, 5), (150, 1)]
    assert (t.gaps, t.holes_expected, t.unaudited, t.pending_holes) == (2, 2, 0, 0)
    assert reported == [2]


def test_throttled_page_is_retried_after_retry_after() -> None:
    t = tracker_with_holes([5], 10)
    taken = t.take_holes()
    throttled = RestResult(429, 1.0, {"message": "Too many requests"}, 1.0, "http_429", False)
    srv = Server(stored(20), fail=[throttled])
    slept: list[float] = []
    a = HoleAuditor(t, srv.fetch, lambda n: None, sleep=slept.append)
    assert a.audit(HoleBatch(taken, PHASE_REPLAY)) == (1, 0)
    assert slept == [1.0] and len(srv.calls) == 2 and t.unaudited == 0


def test_failed_audit_is_retried_later_then_unaudited_not_gaps() -> None:
    t = tracker_with_holes([4, 5], 10)
    taken = t.take_holes()
    down = RestResult(0, 1.0, "ConnectionError", None, None, False)
    srv = Server(stored(20), fail=[down] * 3)
    unaudited: list[int] = []
    clock = [0.0]
    a = HoleAuditor(
        t, srv.fetch, lambda n: None, on_unaudited=unaudited.append, retry_rounds=1,
        sleep=lambda s: clock.__setitem__(0, clock[0] + s), clock=lambda: clock[0],
    )  # fmt: skip
    assert a.audit(HoleBatch(taken, PHASE_REPLAY)) == (0, 0)
    assert (t.gaps, t.unaudited, t.pending_holes) == (0, 0, 2) and len(srv.calls) == 3
    # A later round (after its backoff) audits them once the server answers again.
    assert a.wait(5) and (t.gaps, t.holes_expected, t.unaudited) == (1, 1, 0) and len(srv.calls) == 4
    # Failing every round: given up as unaudited, never counted as gaps.
    t3 = tracker_with_holes([4, 5], 10)
    srv3 = Server(stored(20), fail=[down] * 6)
    a3 = HoleAuditor(t3, srv3.fetch, lambda n: None, on_unaudited=unaudited.append, retry_rounds=1,
                     sleep=lambda s: None, clock=lambda: 0.0)  # fmt: skip
    a3.audit(HoleBatch(t3.take_holes(), PHASE_REPLAY))
    assert a3.wait(5) and (t3.gaps, t3.unaudited) == (0, 2) and len(srv3.calls) == 6 and unaudited == [2]
    # A 4xx is not retried.
    t2 = tracker_with_holes([4], 10)
    srv2 = Server(stored(20), fail=[RestResult(404, 1.0, None, None, None, False)])
    HoleAuditor(t2, srv2.fetch, lambda n: None, sleep=lambda s: None).audit(HoleBatch(t2.take_holes(), PHASE_REPLAY))
    assert len(srv2.calls) == 1 and t2.unaudited == 1 and t2.gaps == 0


def test_page_bound() -> None:
    holes = list(range(1, 2000, 50))  # 40 holes, one page each
    t = tracker_with_holes(holes, 2001)
    srv = Server(stored(2100, state_every=10_000))
    a = HoleAuditor(t, srv.fetch, lambda n: None, max_pages=5, sleep=lambda s: None)
    gaps, _ = a.audit(HoleBatch(t.take_holes(), PHASE_REPLAY))
    assert len(srv.calls) == 5 and gaps == 10 and t.unaudited == 30


def test_background_worker_and_wait() -> None:
    t = tracker_with_holes([3], 9)
    srv = Server(stored(20))
    a = HoleAuditor(t, srv.fetch, lambda n: None)
    a.submit(HoleBatch(t.take_holes(), PHASE_REPLAY))
    assert a.wait(5) and not a.busy
    assert t.holes_expected == 0 and t.gaps == 1


def test_pacer_spaces_calls() -> None:
    p = Pacer(4.0)
    assert p.delay(10.0) == 0.0
    assert p.delay(10.0) == 0.25
    assert abs(p.delay(10.1) - 0.4) < 1e-9
    assert p.delay(20.0) == 0.0  # idle time is not banked
    assert pacer(3.0) is pacer(3.0) and pacer(3.0) is not pacer(4.0)


def test_audit_pages_are_paced() -> None:
    holes = [1, 150, 300]
    t = tracker_with_holes(holes, 400)
    srv = Server(stored(500, state_every=10_000))
    slept: list[float] = []
    a = HoleAuditor(t, srv.fetch, lambda n: None, pace=Pacer(1000.0), sleep=slept.append)
    a.audit(HoleBatch(t.take_holes(), PHASE_REPLAY))
    assert len(srv.calls) == 3 and len(slept) >= 1 and all(0 < s <= 0.002 for s in slept)


def test_only_a_final_answer_counts_as_a_failed_call() -> None:
    """A reset connection (no answer) or a 429 that will be asked again is reported as retried; the answer
    that settles the page (its success, a 4xx, or the last try of the last round) is the one that counts."""
    down = RestResult(0, 1.0, "ConnectionError", None, None, False, cause="connection reset (127.0.0.1:3000)")
    throttled = RestResult(429, 1.0, {"message": "Too many requests"}, 1.0, "http_429", False)
    seen: list[tuple[int, bool]] = []

    def on_result(res: RestResult, retried: bool) -> None:
        seen.append((res.status, retried))

    t = tracker_with_holes([5], 10)
    srv = Server(stored(20), fail=[down, throttled])
    HoleAuditor(t, srv.fetch, lambda n: None, on_result=on_result, sleep=lambda s: None).audit(
        HoleBatch(t.take_holes(), PHASE_REPLAY)
    )
    assert seen == [(0, True), (429, True), (200, False)] and t.unaudited == 0
    # every try of every round failing: only the very last answer is final; the holes stay unaudited
    seen.clear()
    t2 = tracker_with_holes([5], 10)
    srv2 = Server(stored(20), fail=[down] * 6)
    a = HoleAuditor(t2, srv2.fetch, lambda n: None, on_result=on_result, retry_rounds=1,
                    sleep=lambda s: None, clock=lambda: 0.0)  # fmt: skip
    a.audit(HoleBatch(t2.take_holes(), PHASE_REPLAY))
    assert a.wait(5) and seen == [(0, True)] * 5 + [(0, False)] and t2.unaudited == 1
    # a 4xx is final at once
    seen.clear()
    t3 = tracker_with_holes([5], 10)
    srv3 = Server(stored(20), fail=[RestResult(404, 1.0, None, None, None, False)])
    HoleAuditor(t3, srv3.fetch, lambda n: None, on_result=on_result, sleep=lambda s: None).audit(
        HoleBatch(t3.take_holes(), PHASE_REPLAY)
    )
    assert seen == [(404, False)]
