"""Loop lag and the REST classification: a slow answer is the server's only when the generator's own loop lag
cannot explain it."""

from __future__ import annotations

# isort: split

import gevent

import subprocess
import sys
import time

import pytest

from loadtest.openhands import looplag
from loadtest.openhands.rest import SLOW_GENERATOR, RestClient, classify_answer
from tests.support.procs import ROOT, ReferenceServer


def busy(seconds: float) -> None:
    """Hold the gevent loop for ``seconds`` without yielding (what a saturated generator does)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


# -- the decision, on plain numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "elapsed_ms", "lag_ms", "expected"),
    [
        (200, 120.0, None, None),  # fast
        (200, 120.0, 110.0, None),  # fast, lag or not
        (200, 1004.0, None, "http_delayed"),  # slow, lag not measured: as before
        (200, 1004.0, 3.0, "http_delayed"),  # the limiter's 1 s sleep, idle generator
        (200, 1004.0, 90.0, "http_delayed"),  # 914 ms are still the server's
        (204, 1004.0, 104.0, "http_delayed"),  # exactly the threshold left: the server's
        (200, 1004.0, 104.5, SLOW_GENERATOR),  # under the threshold once the lag is taken off
        (200, 1210.0, 1180.0, SLOW_GENERATOR),  # the loop was blocked for most of the call
        (200, 2500.0, 1200.0, "http_delayed"),  # the lag explains only part of it: 1.3 s are the server's
        (429, 1210.0, 1180.0, "http_429"),  # a 429 is the server's whatever the lag
        (429, 5.0, None, "http_429"),
        (404, 1500.0, 0.0, None),  # a slow error is no throttle signal
        (0, 1500.0, 0.0, None),  # no answer
    ],
)
def test_classify_answer(status: int, elapsed_ms: float, lag_ms: float | None, expected: str | None) -> None:
    assert classify_answer(status, elapsed_ms, 900.0, lag_ms) == expected


# -- the monitor ---------------------------------------------------------------------------------------


def test_lag_across_a_blocked_loop_includes_the_block_before_the_monitor_runs() -> None:
    before = looplag.lag_s()
    assert before is not None  # the test process is monkey-patched like a Locust worker
    busy(0.4)
    during = looplag.lag_s()  # no greenlet has run since: the pending tick is overdue by the block
    gevent.sleep(2 * looplag.TICK)  # the monitor commits it
    after = looplag.lag_s()
    assert during is not None and after is not None
    assert during - before >= 0.4 - looplag.TICK
    assert after >= during  # committing the overdue tick neither loses nor doubles it
    assert after - during < 0.2


def test_an_idle_loop_has_little_lag() -> None:
    looplag.MONITOR.start()
    gevent.sleep(looplag.TICK)
    before = looplag.lag_s()
    gevent.sleep(0.5)
    after = looplag.lag_s()
    assert before is not None and after is not None
    assert 0.0 <= after - before < 0.1


def test_take_max_reports_the_worst_lateness_once() -> None:
    m = looplag.LoopLagMonitor(tick=0.02)
    m.start()
    try:
        gevent.sleep(0.05)
        m.take_max()
        busy(0.3)
        gevent.sleep(0.05)
        assert m.take_max() >= 0.3 - m.tick
        gevent.sleep(0.1)
        assert m.take_max() < 0.1
    finally:
        m.stop()


def test_no_lag_is_measured_where_sockets_do_not_go_through_gevent() -> None:
    code = "from loadtest.openhands import looplag; print(looplag.lag_s())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


# -- over loopback -------------------------------------------------------------------------------------


def test_a_call_the_blocked_loop_delayed_is_slow_generator_not_http_delayed() -> None:
    """The server (no REST limiter) answers at once; the generator's loop is held 1.2 s while the call is in flight."""
    with ReferenceServer("--max-conversations", "0", "--no-http-limit") as srv:
        rest = RestClient(srv.url)
        assert rest.alive().ok  # the pool holds a connection now
        call = gevent.spawn(rest.alive)
        gevent.sleep(0)  # the call starts its clock, sends and waits for the answer
        busy(1.2)
        res = call.get(timeout=30)
        metrics = srv.metrics()
    assert res.ok and res.elapsed_ms >= 1200.0
    assert res.throttle is None and res.slow_generator
    assert metrics.get('loadtest_throttles_total{kind="http_delayed"}', 0) == 0


def test_a_call_the_server_delayed_stays_http_delayed_while_the_loop_is_free() -> None:
    """The limiter's sleep with an idle generator: still the server's signal (the check above can fail)."""
    with ReferenceServer("--max-conversations", "0", "--http-rate", "1") as srv:
        rest = RestClient(srv.url)
        calls = [gevent.spawn(rest.alive) for _ in range(2)]  # the second of the second is delayed
        results = [c.get(timeout=30) for c in calls]
        metrics = srv.metrics()
    delayed = [r for r in results if r.throttle == "http_delayed"]
    assert len(delayed) == metrics['loadtest_throttles_total{kind="http_delayed"}'] == 1
    assert not any(r.slow_generator for r in results)
