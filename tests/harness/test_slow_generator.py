"""Throttle signals are the server's: a REST answer the generator's own loop lag delayed is counted
``slow_generator`` (no throttle, no failure row); against the reference limiter ``http_delayed`` stays exact."""

from __future__ import annotations

# isort: split

import gevent

from pathlib import Path
from typing import Any

import pytest

from loadtest.harness.health import HealthProbe
from loadtest.harness.metrics import MetricsListener, Recorder
from loadtest.openhands import Conversation, ConversationConfig, looplag
from tests.harness.locustrun import run_locust
from tests.openhands.test_looplag import busy
from tests.support.procs import ReferenceServer


class Hook:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def fire(self, **kwargs: Any) -> None:
        self.rows.append(kwargs)


def test_a_create_delayed_by_the_blocked_loop_counts_slow_generator_not_throttled() -> None:
    hook = Hook()
    recorder = Recorder(hook)
    with ReferenceServer("--max-conversations", "0", "--no-http-limit") as srv:
        conv = Conversation(ConversationConfig(srv.url), listener=MetricsListener(recorder))
        assert conv.rest.alive().ok  # a pooled connection: the create below only sends and waits
        call = gevent.spawn(conv.create)
        gevent.sleep(0)  # the create is on the wire
        busy(1.2)  # the generator's loop is saturated while the server answers
        call.get(timeout=30)
        conv.close()
        metrics = srv.metrics()
    recorder.roll(final=True)
    assert recorder.totals.get("slow_generator") == 1
    assert not any(k.startswith("throttled.") for k in recorder.totals), recorder.totals
    assert metrics.get('loadtest_throttles_total{kind="http_delayed"}', 0) == 0
    assert not [r for r in hook.rows if r.get("exception") is not None], hook.rows
    (create,) = [r for r in hook.rows if r["name"] == "rest_create"]
    assert create["response_time"] >= 1200.0  # the row still tells how long the call took


def test_the_health_probe_reads_the_same_monitor_the_rest_client_reads() -> None:
    probe = HealthProbe()
    assert probe.monitor is looplag.MONITOR
    probe.start()
    gevent.sleep(looplag.TICK)
    probe.take()
    busy(0.3)
    gevent.sleep(looplag.TICK)
    lag_ms, _cpu = probe.take()
    assert lag_ms >= 300.0 - looplag.TICK * 1000.0
    gevent.sleep(0.2)
    assert probe.take()[0] < 150.0  # reset by the previous take


@pytest.mark.slow
def test_idle_users_count_exactly_the_delays_the_reference_limiter_applied(tmp_path: Path) -> None:
    """15 idle users from one address create their conversations within 0.3 s: the limiter delays some."""
    with ReferenceServer("--max-conversations", "0", "--event-delay-ms", "5") as server:
        r = run_locust(server.url, tmp_path / "idle", "IdleUser", users=15, run_time="5s")
        m = server.metrics()
    assert r.lines, r.output[-3000:]  # the run's exit code is the verdict's business (429s fail creates)
    print("server throttles:", {k: v for k, v in m.items() if "throttles" in k}, "rest calls:", r.counter("rest_calls"))
    delayed = m['loadtest_throttles_total{kind="http_delayed"}']
    assert delayed >= 1, m
    assert r.counter("throttled.http_delayed") == delayed
    assert r.counter("throttled.http_429") == m.get('loadtest_throttles_total{kind="http_429"}', 0)
    assert r.counter("slow_generator") == 0
