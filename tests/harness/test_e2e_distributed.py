"""Master + two workers on loopback: every action and event counted exactly once in the merged timeline."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest

from tests.harness.locustrun import LOCUSTFILE, locust_argv, locust_counts, read_folder, start_locust, wait_bounded
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow

TOTALS = re.compile(
    r"loadtest totals of this process \(worker (\d+)\): actions=(\d+) events=(\d+) bytes=(\d+) turns=(\d+)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("rows", ["each", "batched"])
def test_master_and_two_workers_count_everything_once(tmp_path: Path, rows: str) -> None:
    port = _free_port()
    folder = tmp_path / "dist"
    opts = ("--event-delay-ms", "10", "--script", "run,message", "--max-conversations", "0", "--no-http-limit")
    with ReferenceServer(*opts) as server:
        master_argv = locust_argv(
            server.url, folder, "--think-time", "50ms", "--locust-rows", rows, "ChatUser", users=6, run_time="5s"
        )
        master_argv += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
        master_argv += ["--expect-workers", "2", "--expect-workers-max-wait", "20"]
        master = start_locust(master_argv)
        worker_argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
        worker_argv += ["--master-host", "127.0.0.1", "--master-port", str(port)]
        workers = [start_locust(worker_argv) for _ in range(2)]
        try:
            rc, out = wait_bounded(master, 60)
            worker_outs = [wait_bounded(w, 30)[1] for w in workers]
        finally:
            for p in (master, *workers):
                if p.poll() is None:
                    p.kill()
        actions_received = server.metrics()["loadtest_actions_received_total"]
    assert rc == 0, out[-3000:]
    run, lines = read_folder(folder)
    totals = [TOTALS.search(o) for o in worker_outs]
    assert all(totals), worker_outs[0][-2000:]
    per_worker = [tuple(int(x) for x in m.groups()) for m in totals if m]
    assert sorted(w[0] for w in per_worker) == [0, 1]
    merged = {key: sum(line["counters"][key] for line in lines) for key in ("actions", "events", "bytes", "turns")}
    assert merged["actions"] == sum(w[1] for w in per_worker) == actions_received > 0
    assert merged["events"] == sum(w[2] for w in per_worker) > 0
    assert merged["bytes"] == sum(w[3] for w in per_worker)
    assert merged["turns"] == sum(w[4] for w in per_worker)
    assert all(min(w[1] for w in per_worker) > 0 for _ in [0]), per_worker  # both workers did work
    assert max(line["health"]["workers"] for line in lines) == 2
    assert any(len(line["health"].get("by_worker", [])) == 2 for line in lines)
    assert [line["t"] for line in lines] == list(range(len(lines)))
    turns_hist = sum(line["metrics"].get("turn", {}).get("n", 0) for line in lines)
    assert turns_hist + sum(line["counters"]["failures"].get("turn", 0) for line in lines) == merged["turns"]
    assert run["exit_code"] == 0 and run["timeline"]["late_slices"] == 0
    # Locust's own merged statistics (the master's final table) count every turn once too, in both row modes
    assert locust_counts(out)["turn"] == turns_hist, (rows, locust_counts(out), turns_hist)
