"""The web UI on a distributed master: the tabs show the workers' merged figures, not the master's zeros."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import ReferenceServer
from tests.webui.helpers import LOCUSTFILE, free_port, get, get_bytes, locust_process, post, until, web_ui_argv

pytestmark = pytest.mark.slow


def _conversations(base: str) -> dict[tuple[str, str], dict[str, Any]] | None:
    status, body = get(base + "/stats/requests")
    if status != 200:
        return None
    data = json.loads(body)
    for table in data.get("extended_stats", []):
        if table["key"] == "conversations":
            return {(r["section"], r["item"]): r for r in table["data"]}
    return None


def test_master_tabs_show_merged_worker_figures(tmp_path: Path) -> None:
    web, bind = free_port(), free_port()
    folder = tmp_path / "dist-ui"
    with ReferenceServer("--event-delay-ms", "5", "--script", "message", "--max-conversations", "0") as server:
        master_argv = web_ui_argv(server.url, web, folder, "ChatUser", "--think-time", "100ms")
        master_argv += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(bind)]
        worker_argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
        worker_argv += ["--master-host", "127.0.0.1", "--master-port", str(bind)]
        with (
            locust_process(master_argv, tmp_path / "master.log") as master,
            locust_process(worker_argv, tmp_path / "worker1.log"),
            locust_process(worker_argv, tmp_path / "worker2.log"),
        ):
            base = f"http://127.0.0.1:{web}"
            until(lambda: json.loads(get(base + "/stats/requests")[1]).get("worker_count") == 2, 60, "two workers")
            assert get(base + "/loadtest/summary")[0] == 404  # no run yet
            started = json.loads(post(base + "/swarm", {"user_count": "4", "spawn_rate": "10", "host": server.url}))
            assert started["success"], started

            def merged() -> dict[tuple[str, str], Any] | None:
                rows = _conversations(base)
                if rows is None or ("live", "workers reporting") not in rows:
                    return None
                ok = rows[("live", "conversations open")]["count"] == 4 and rows[("latency", "echo")]["count"] > 0
                return rows if ok and rows[("live", "workers reporting")]["count"] == 2 else None

            rows = until(merged, 60, "the Conversations tab with both workers' figures")
            assert rows[("live", "sockets connected")]["count"] == 4
            assert rows[("stream", "events")]["count"] > 0 and float(rows[("latency", "turn")]["p95"]) > 0
            status, body = get(base + "/loadtest/summary")
            assert status == 200
            live = json.loads(body)
            assert live["metrics"]["echo"]["count"] > 0 and live["counters"]["events"] > 0
            report = json.loads(get(base + "/loadtest/report.json", timeout=90)[1])
            assert len(report["figures"]) >= 5 and report["seconds"] > 0
            status, png = get_bytes(base + report["figures"][0]["url"])
            assert status == 200 and png.startswith(b"\x89PNG")
            post(base + "/stop", {})
            until(lambda: (folder / "summary.json").exists(), 60, "the run folder's summary.json")
            until(lambda: json.loads(get(base + "/loadtest/report.json")[1])["report_html"], 30, "report.html")
            final = json.loads(get(base + "/loadtest/summary")[1])
            assert final == json.loads((folder / "summary.json").read_text())
            assert final["metrics"]["echo"]["count"] >= live["metrics"]["echo"]["count"]
            assert master.poll() is None
