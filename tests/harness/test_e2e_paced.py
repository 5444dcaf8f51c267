"""PacedUser: throttle signals match the server's limiter; p50 does not grow with the user count."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.locustrun import run_locust
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow


def test_paced_users_record_the_throttles_the_server_counted(tmp_path: Path) -> None:
    users = 3
    opts = ("--event-delay-ms", "5", "--script", "message", "--max-conversations", "0")
    with ReferenceServer(*opts, "--action-rate", "2", "--action-limit-mode", "state") as server:
        r = run_locust(server.url, tmp_path / "p", "--action-pace", "200ms", "PacedUser", users=users, run_time="4s")
        m = server.metrics()
    server_throttles = m['loadtest_throttles_total{kind="action_rate"}']
    seen = r.counter("throttled.rate_limited_state")
    assert server_throttles >= 10, m
    # the answers to the last actions may still be on the wire when the run stops: at most one per user
    assert server_throttles - users <= seen <= server_throttles, (seen, server_throttles)
    assert r.counter("actions") == m["loadtest_actions_received_total"]
    assert r.counter("failures.turn") >= seen - users  # a throttled turn ends as rate_limited
    assert "Throttled('rate_limited_state')" in r.output
    assert r.total().hists["echo_co"].count > 0 and r.total().hists["turn_co"].count > 0


def _echo_p50(tmp_path: Path, server: ReferenceServer, users: int, total_rate: float) -> float:
    r = run_locust(
        server.url, tmp_path / f"u{users}", "--action-pace", f"{users / total_rate:g}s", "PacedUser",
        users=users, run_time="4s",
    )  # fmt: skip
    assert r.rc == 0, r.output[-3000:]
    offered = [line["offered_rate"] for line in r.lines if line["users"] == users]
    assert offered and abs(max(offered) - total_rate) < 0.01 * total_rate
    return r.p50("echo")


def test_paced_p50_is_independent_of_the_user_count(tmp_path: Path) -> None:
    total_rate = 40.0
    opts = ("--event-delay-ms", "5", "--script", "message", "--max-conversations", "0", "--no-http-limit")
    with ReferenceServer(*opts) as server:
        few = _echo_p50(tmp_path, server, 4, total_rate)
        many = _echo_p50(tmp_path, server, 40, total_rate)
    # phase-locked users would fire 40 actions in the same few ms each second and queue behind each other
    # (p50 tens of ms); spread phases keep the server's load, and so p50, the same
    assert many <= few + 3.0, (few, many)
