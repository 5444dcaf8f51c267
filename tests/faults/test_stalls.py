"""A server that stalls: connect and turn timeouts fire as failures at their configured times.

- Connect: a loopback socket that is listening but never accepts or answers (the kernel completes the TCP
  handshake, nothing more). Each connect fails as ``ConnectTimeout`` after ``--connect-timeout``.
- Turn: the reference server's agent stalls for good before the second live event of each conversation
  (``--stall-after 1 --stall-ms 0``). Each turn fails as ``TurnFailed('timeout')`` after ``--turn-timeout``.

Locust's own stats (``--csv``) carry the failures with their response times; the bounds are the timeout and
the timeout plus a generous slack, never a machine-speed figure.
"""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import pytest

from tests.harness.locustrun import run_locust
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow

SLACK_MS = 1500.0


def _row(folder: Path, name: str) -> dict[str, str]:
    with (folder / "locust_stats.csv").open() as f:
        return next(r for r in csv.DictReader(f) if r["Name"] == name)


def _failures(folder: Path) -> str:
    return (folder / "locust_failures.csv").read_text()


def test_connect_timeout_fires_at_its_configured_time(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("c1\nc2\n")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # never accepted, never answered
        host = f"http://127.0.0.1:{silent.getsockname()[1]}"
        folder = tmp_path / "c"
        r = run_locust(
            host, folder, "--connect-timeout", "2s", "--conversation-ids", str(ids), "--csv", str(folder / "locust"),
            "--wait-ready", "off",  # the REST readiness poll has its own (30 s) timeout: see notes/requests-faults.md
            "--exit-code-on-error", "0", "ChatUser", users=2, run_time="7s",
        )  # fmt: skip
    # no connect ever succeeded: nothing was measured, and the verdict says so (exit 1)
    assert r.rc == 1, r.output[-3000:]
    assert r.run["verdict"] == "error" and f"the target {host} was never reached" in r.run["verdict_reason"]
    row = _row(folder, "connect")
    assert int(row["Failure Count"]) >= 2 and int(row["Failure Count"]) == int(row["Request Count"]), row
    assert float(row["Min Response Time"]) >= 2000.0 and float(row["Max Response Time"]) <= 2000.0 + SLACK_MS, row
    assert "ConnectFailed('timed out after 2 s (transport)')" in _failures(folder)
    assert r.counter("failures.connect") == int(row["Failure Count"])


def test_turn_timeout_fires_at_its_configured_time(tmp_path: Path) -> None:
    opts = ("--event-delay-ms", "20", "--script", "run,message", "--max-conversations", "0", "--no-http-limit",
            "--stall-after", "1", "--stall-ms", "0")  # fmt: skip
    folder = tmp_path / "t"
    with ReferenceServer(*opts) as server:
        r = run_locust(
            server.url, folder, "--turn-timeout", "2s", "--think-time", "100ms", "--csv", str(folder / "locust"),
            "--exit-code-on-error", "0", "ChatUser", users=2, run_time="7s",
        )  # fmt: skip
        stalls = server.metrics()['loadtest_faults_total{kind="stall"}']
    # every turn stalled: no turn completed, so nothing was measured (exit 1)
    assert r.rc == 1, r.output[-3000:]
    assert r.run["verdict"] == "error" and "no turn completed" in r.run["verdict_reason"], r.run
    assert stalls >= 2
    row = _row(folder, "turn")
    assert int(row["Failure Count"]) >= 2 and int(row["Failure Count"]) == int(row["Request Count"]), row
    assert float(row["Min Response Time"]) >= 2000.0 and float(row["Max Response Time"]) <= 2000.0 + SLACK_MS, row
    assert "TurnFailed(&#x27;timeout&#x27;)" in _failures(folder) or "TurnFailed('timeout')" in _failures(folder)
    assert r.counter("failures.turn") == int(row["Failure Count"])
