"""The web UI: our options in the start form (the key never in the page), a run started and stopped over HTTP."""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.harness.locustrun import LOCUSTFILE, start_locust, wait_bounded
from tests.harness.test_e2e_distributed import _free_port
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def _post(url: str, form: dict[str, str] | None = None) -> str:
    data = urllib.parse.urlencode(form or {}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=10) as resp:
        return resp.read().decode()


def _until(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return True
        except (OSError, ValueError):
            pass  # not up yet, or a file half written
        time.sleep(0.2)
    return False


def test_web_ui_form_run_and_stop(tmp_path: Path) -> None:
    port = _free_port()
    folder = tmp_path / "ui"
    with ReferenceServer("--event-delay-ms", "5", "--script", "message", "--max-conversations", "0") as server:
        argv = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", server.url, "--web-host", "127.0.0.1",
            "--web-port", str(port), "--report-dir", str(folder), "--skip-report", "--session-api-key", "hunter2-ui",
        ]  # fmt: skip
        proc = start_locust(argv)
        try:
            base = f"http://127.0.0.1:{port}"
            assert _until(lambda: _get(base + "/").startswith("<!"), 20)
            page = _get(base + "/")
            assert '"think_time"' in page and '"slo"' in page and '"shape"' in page
            assert "hunter2-ui" not in page
            started = json.loads(_post(base + "/swarm", {
                "user_count": "2", "spawn_rate": "10", "host": server.url, "user_classes": "ChatUser",
                "think_time": "100ms", "slo": "turn.p50<5s",
            }))  # fmt: skip
            assert started["success"], started
            timeline = folder / "timeline.jsonl"
            assert _until(lambda: timeline.exists() and len(timeline.read_text().splitlines()) >= 2, 15)
            stats = json.loads(_get(base + "/stats/requests"))
            (ours,) = [e for e in stats["extended_stats"] if e["key"] == "socketio"]
            names = {row["name"] for row in ours["data"]}
            assert {"connect", "echo", "turn", "actions", "events", "gaps"} <= names, names
            assert "Metric or counter" in page and "/loadtest/socketio.csv" in page
            assert _get(base + "/loadtest/socketio.csv").startswith("name,count,failures,p50")
            assert json.loads(_get(base + "/loadtest/timeline.json"))[-1]["counters"]["events"] >= 0
            _post(base + "/stop")
            run_json = folder / "run.json"
            assert _until(lambda: json.loads(run_json.read_text()).get("ended_at"), 15)
        finally:
            proc.terminate()  # the process we started, by its handle
            _, out = wait_bounded(proc, 20)
    run = json.loads((folder / "run.json").read_text())
    assert run["settings"]["think_time"] == [0.1, 0.1] and run["slo"][0]["ok"] is True
    assert run["settings"]["session_api_key"] == "***" and "hunter2-ui" not in out
    assert sum(json.loads(x)["counters"]["turns"] for x in (folder / "timeline.jsonl").read_text().splitlines()) > 0
