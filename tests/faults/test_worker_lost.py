"""A Locust worker killed (SIGKILL) in a master/worker run: the master goes on, the report notes the lost
worker, and the surviving worker's totals are all in the merged timeline."""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.harness.locustrun import LOCUSTFILE, locust_argv, read_folder, start_locust, wait_bounded
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow

TOTALS = re.compile(r"loadtest totals of this process \(worker (\d+)\): actions=(\d+) events=(\d+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_killed_worker_is_noted_and_survivors_totals_are_intact(tmp_path: Path) -> None:
    port = _free_port()
    folder = tmp_path / "dist"
    opts = ("--event-delay-ms", "10", "--script", "run,message", "--max-conversations", "0", "--no-http-limit")
    with ReferenceServer(*opts) as server:
        master_argv = locust_argv(server.url, folder, "--think-time", "100ms", "ChatUser", users=4, run_time="14s")
        master_argv.remove("--skip-report")
        master_argv += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
        master_argv += ["--expect-workers", "2", "--expect-workers-max-wait", "20", "--exit-code-on-error", "0"]
        master = start_locust(master_argv)
        worker_argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
        worker_argv += ["--master-host", "127.0.0.1", "--master-port", str(port)]
        workers = [start_locust(worker_argv) for _ in range(2)]
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (folder / "timeline.jsonl").exists():
                time.sleep(0.2)
            time.sleep(4)
            workers[0].send_signal(signal.SIGKILL)  # the process we started, by its pid
            rc, out = wait_bounded(master, 60)
            survivor_out = wait_bounded(workers[1], 30)[1]
            workers[0].wait(10)
        finally:
            for p in (master, *workers):
                if p.poll() is None:
                    p.kill()
        received = server.metrics()["loadtest_actions_received_total"]
    assert rc == 0, out[-3000:]
    run, lines = read_folder(folder)
    assert run["ended_at"] and run["verdict"] == "pass"
    assert any("lost at t =" in n for n in run["notes"]), run["notes"]
    assert max(x["health"]["lost_workers"] for x in lines) == 1
    # the run went on after the loss: turns in its last seconds
    assert sum(x["counters"]["turns"] for x in lines[-5:]) > 0
    m = TOTALS.search(survivor_out)
    assert m, survivor_out[-2000:]
    survivor_actions = int(m.group(2))
    merged = sum(x["counters"]["actions"] for x in lines)
    # everything the survivor did is in the timeline; the rest is what the killed worker shipped before it died
    assert survivor_actions > 0 and survivor_actions <= merged <= received, (survivor_actions, merged, received)
    faults = json.loads((folder / "summary.json").read_text())["run"]["faults"]
    assert faults["lost_workers"] == 1
    md = (folder / "summary.md").read_text()
    assert "worker(s) lost" in md and "lost at t =" in md
