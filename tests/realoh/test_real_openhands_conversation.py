"""Our conversation layer (gevent client, `Conversation`, `RestClient`) against a real OpenHands 1.6.0.

- join as the frontend does (wait for RUNNING, timed), two turns ending `finished` (echo, the agent's `run`
  and `finish`), the first join's resent ids counted as duplicates and never acted on, a drop and a
  reconnect from the max id, no gaps after the hole audit;
- the replay from every possible `latest_event_id` exact (ids, no gaps, duplicates or out-of-order);
- OpenHands' per-IP REST limiter: a burst from one address is classified (`http_delayed`, `http_429` with
  its Retry-After), the same burst spread over 8 loopback addresses is not throttled.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.pool

import time

import pytest

from loadtest.openhands import Conversation, ConversationConfig, EventKind, RestClient, RestResult
from tests.openhands.recorder import Recorder
from tests.openhands.support import wait_until
from tests.realoh.oh_server import Server, expected_replay

pytestmark = [pytest.mark.real_openhands, pytest.mark.slow]

SOURCE_IPS = tuple(f"127.0.0.{i}" for i in range(2, 10))


def _quiet_limiter() -> None:
    """Let OpenHands' 1 s limiter window empty, so one check's REST calls do not throttle the next one."""
    gevent.sleep(1.2)


@pytest.mark.timeout(420)  # includes the package fixture (install + start) when run alone
@pytest.mark.usefixtures("llm_faults_off")
def test_turns_reconnect_and_replay_from_every_midpoint(openhands: Server) -> None:
    rest = RestClient(openhands.url)
    cfg = ConversationConfig(openhands.url, connect_timeout=60, turn_timeout=60, ready_poll=1.0)
    rec = Recorder()
    conv = Conversation(cfg, listener=rec, rest=rest)
    conv.create()
    ready = conv.wait_ready(timeout=60)
    assert ready.ok and ready.outcome == "ready" and ready.status == "RUNNING", ready
    assert ready.runtime_status and ready.runtime_status != "STATUS$STOPPED" and ready.ready_ms is not None
    assert ("ready", 200) in [(call, res.status) for call, res in rec.rest]
    conv.connect()
    assert wait_until(lambda: rec.kinds.count(EventKind.AGENT_STATE) >= 2, timeout=60)
    for i in range(2):
        turn = conv.send_message(f"hello {i}", timeout=60)
        assert turn.end_state == "finished", turn  # the mock LLM calls `finish`; OpenHands then says finished
        assert turn.echo_at is not None and turn.first_agent_at is not None
        assert turn.echo_at <= turn.first_agent_at <= turn.end_at  # type: ignore[operator]
    # The first join of a fresh conversation gets ids 1 and 3 once more (live, source `agent`, after the
    # replay's `environment` copies): counted as duplicates, deduplicated, no turn touched by them.
    assert conv.integrity.duplicates <= 3, conv.integrity
    conv.drop()
    rr = conv.reconnect()
    assert rr.ok and rr.attempts == 1, rr
    assert conv.send_message("after reconnect", timeout=60).end_state == "finished"
    assert conv.settle(30)
    integ = conv.integrity
    assert integ.gaps == 0 and integ.holes_expected > 0, integ
    duplicates_before = integ.duplicates
    cid = conv.conversation_id
    assert cid is not None
    conv.close()
    assert duplicates_before == integ.duplicates  # the reconnect's replay resent nothing

    _quiet_limiter()
    stored = openhands.stored_events(cid)
    top = stored[-1]["id"]
    for latest in range(-1, top + 1):
        want = expected_replay(stored, latest)
        c = Conversation(cfg, cid, rest=rest, latest_event_id=latest)
        cr = c.connect()
        assert c.settle(30)
        i2 = c.integrity
        assert cr.replayed_events == len(want), (latest, cr, want)
        assert (i2.gaps, i2.duplicates, i2.out_of_order) == (0, 0, 0), (latest, i2)
        assert i2.holes_expected == top - latest - len(want), (latest, i2)
        c.close()
        gevent.sleep(0.25)  # the audits' REST calls stay under OpenHands' 10 req/s limiter


def _burst(url: str, sources: tuple[str | None, ...], n: int) -> list[RestResult]:
    """`n` concurrent GET /health, the i-th from sources[i % len(sources)]."""
    clients = [RestClient(url, source_address=src) for src in sources]
    pool = gevent.pool.Pool(n)
    jobs = [pool.spawn(clients[i % len(clients)].health) for i in range(n)]
    gevent.joinall(jobs, timeout=60, raise_error=True)
    return [job.value for job in jobs]


@pytest.mark.timeout(420)
def test_rest_limiter_classified_from_one_address_and_avoided_from_eight(openhands: Server) -> None:
    _quiet_limiter()
    one = _burst(openhands.url, (None,), 30)
    throttles = [r.throttle for r in one]
    # OpenHands: requests 11-20 of a second sleep 1 s, beyond 20 → 429 with Retry-After: 1
    assert throttles.count("http_429") >= 1 and throttles.count("http_delayed") >= 1, throttles
    for r in one:
        if r.throttle == "http_429":
            assert r.status == 429 and r.retry_after == 1.0 and not r.ok
        elif r.throttle == "http_delayed":
            assert r.ok and r.elapsed_ms >= 900.0
        else:
            assert r.ok, r
    assert sum(r.ok for r in one) >= 10
    _quiet_limiter()
    start = time.monotonic()
    spread = _burst(openhands.url, SOURCE_IPS, 30)  # ≤ 4 per address: under the 10/s limit
    assert [r.status for r in spread] == [200] * 30 and all(r.throttle is None for r in spread), spread
    assert time.monotonic() - start < 30
