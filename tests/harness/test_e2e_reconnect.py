"""ReconnectUser and IdleUser against the reference server: drops, replay integrity, held conversations."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.harness.locustrun import LocustRun, locust_argv, read_folder, run_locust, start_locust, wait_bounded
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow


def _drops(r: LocustRun, reason: str) -> tuple[int, int]:
    """(drops in the whole run, drops before its last two seconds) with the given disconnect reason."""
    per_line = [line["counters"]["disconnects"].get(reason, 0) for line in r.lines]
    return sum(per_line), sum(per_line[:-2])


def _assert_one_reconnect_per_drop(r: LocustRun, reason: str) -> None:
    drops, drops_before_end = _drops(r, reason)
    reconnects = r.counter("reconnects")
    assert drops >= 2, r.output[-3000:]
    # a drop in the last moments may be cut off by the end of the run before its reconnect
    detail = [
        (x["t"], x["counters"]["disconnects"], x["counters"].get("reconnects"), x["counters"]["failures"])
        for x in r.lines
    ]
    assert drops_before_end <= reconnects <= drops, (drops_before_end, reconnects, drops, detail)
    assert r.total().hists["reconnect"].count == reconnects
    assert r.counter("failures.reconnect") == 0


def test_scheduled_client_drops_reconnect_once_each_without_gaps(tmp_path: Path) -> None:
    opts = ("--event-delay-ms", "20", "--script", "run,message", "--max-conversations", "0", "--no-http-limit")
    with ReferenceServer(*opts) as server:
        r = run_locust(
            server.url, tmp_path / "r", "--reconnect-every", "1.5s", "--think-time", "100ms", "ReconnectUser",
            users=3, run_time="6s",
        )  # fmt: skip
    assert r.rc == 0, r.output[-3000:]
    _assert_one_reconnect_per_drop(r, "client_abort")
    assert r.counter("gaps") == 0 and r.counter("duplicates") == 0 and r.counter("out_of_order") == 0
    assert r.total().hists["resync"].count >= 1
    assert r.run["settings"]["reconnect_every"] == 1.5


def test_server_drops_are_reconnected_once_each(tmp_path: Path) -> None:
    # --no-http-limit: under OpenHands' REST limiter some hole audits are refused, and the conversation
    # layer counts holes it could not audit as gaps (see notes/requests-harness.md)
    # drops 3 s apart: a resumed connection stays up past STABLE_CONNECTION before the next drop, so the
    # backoff is reset and every drop is followed by one reconnect within a second (a connection lost
    # sooner would count as a failed one and grow the backoff, as socket.io-client's does)
    opts = ("--event-delay-ms", "20", "--script", "message", "--max-conversations", "0", "--no-http-limit")
    with ReferenceServer(*opts, "--drop-every", "3", "--drop-share", "1", "--drop-mode", "abrupt") as server:
        r = run_locust(server.url, tmp_path / "s", "--think-time", "100ms", "ChatUser", users=3, run_time="9s")
        faults = server.metrics()
    reasons = {k for line in r.lines for k in line["counters"]["disconnects"]}
    assert reasons, r.output[-3000:]
    reason = "transport_close" if "transport_close" in reasons else sorted(reasons)[0]
    _assert_one_reconnect_per_drop(r, reason)
    assert faults['loadtest_faults_total{kind="drop_abrupt"}'] >= _drops(r, reason)[0]
    assert r.counter("gaps") == 0 and r.counter("duplicates") == 0


@pytest.mark.parametrize(("fault", "counter"), [("skip", "gaps"), ("repeat", "duplicates")])
def test_faulty_replay_counts_exactly_what_the_server_injected(tmp_path: Path, fault: str, counter: str) -> None:
    opts = ("--event-delay-ms", "10", "--script", "run,edit,message", "--max-conversations", "0", "--no-http-limit")
    with ReferenceServer(*opts, f"--replay-{fault}-every", "1") as server:
        r = run_locust(
            server.url, tmp_path / "f", "--reconnect-every", "1s", "--think-time", "50ms", "ReconnectUser",
            users=2, run_time="4s",
        )  # fmt: skip
        m = server.metrics()
    injected = m[f'loadtest_faults_total{{kind="replay_{fault}"}}']
    assert injected >= 2, m
    assert r.counter(counter) == injected, (counter, r.counter(counter), injected, r.output[-2000:])
    other = "duplicates" if counter == "gaps" else "gaps"
    assert r.counter(other) == 0, r.output[-3000:]


def test_idle_users_hold_n_conversations(tmp_path: Path) -> None:
    n = 30
    with ReferenceServer("--max-conversations", "0", "--no-http-limit") as server:
        folder = tmp_path / "idle"
        proc = start_locust(locust_argv(server.url, folder, "IdleUser", users=n, run_time="6s"))
        held = 0.0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            held = server.metrics().get("loadtest_connections", 0.0)
            if held >= n:
                break
            time.sleep(0.25)
        rc, out = wait_bounded(proc, 40)
    run, lines = read_folder(folder)
    assert rc == 0, out[-3000:]
    assert held == n
    assert max(line["gauges"]["sockets"] for line in lines) == n
    assert max(line["gauges"]["conversations"] for line in lines) == n
    assert sum(line["counters"]["actions"] for line in lines) == 0
    assert run["profile"] == ["IdleUser"]


def test_users_join_conversations_from_a_file(tmp_path: Path) -> None:
    from loadtest.openhands import RestClient

    with ReferenceServer("--max-conversations", "0", "--no-http-limit") as server:
        rest = RestClient(server.url)
        ids = [rest.create_conversation().body["conversation_id"] for _ in range(3)]
        before = server.metrics()["loadtest_conversations_created_total"]
        id_file = tmp_path / "ids.txt"
        id_file.write_text("\n".join(ids) + "\n")
        r = run_locust(
            server.url, tmp_path / "j", "--conversation-ids", str(id_file), "IdleUser", users=3, run_time="3s"
        )
        after = server.metrics()["loadtest_conversations_created_total"]
    assert r.rc == 0, r.output[-3000:]
    assert after == before == 3  # joined, none created
    assert "rest_create" not in r.total().hists and r.counter("connects") == 3
    assert max(line["gauges"]["sockets"] for line in r.lines) == 3
    assert r.run["settings"]["conversation_ids"] == 3  # a count: the ids themselves stay out of run.json
