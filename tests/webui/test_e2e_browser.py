"""The web UI in a real browser: a run started from Locust's own start form, both tabs live, report.html.

`locust -f locustfile.py` serves its web UI on a free loopback port against the reference server (which
checks a session key that the harness only gets from ``LOCUST_SESSION_API_KEY``). Headless Chromium
(`tests/webui/browser.py`, its own process) fills the start form, starts the run, waits for non-zero
figures in the Conversations tab and for the plots in the Report tab, stops the run and downloads
report.html. The screenshots go to tests/artifacts/, and to docs/img/ (the README shows them)
when LOADTEST_UPDATE_DOCS_IMG=1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.report.figures import FIGURES
from tests.support.procs import ROOT, ReferenceServer
from tests.webui.helpers import free_port, get, locust_process, until, web_ui_argv

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS_IMG = ROOT / "docs" / "img"
# The README's screenshots are refreshed only on request, so a test run never modifies committed files.
UPDATE_DOCS = os.environ.get("LOADTEST_UPDATE_DOCS_IMG") == "1"
COPIES = [DOCS_IMG] if UPDATE_DOCS else []
BROWSER = Path(__file__).resolve().parent / "browser.py"
SECRET = "s3cret-webui-key-7781"


def _rows(rows: list[list[str]], section: str) -> dict[str, list[str]]:
    return {r[1]: r for r in rows if r and r[0] == section}


def test_both_tabs_live_in_chromium(tmp_path: Path, chromium: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    folder = tmp_path / "ui-run"
    server_opts = ("--session-api-key", SECRET, "--event-delay-ms", "5", "--script", "run,message")
    with ReferenceServer(*server_opts, "--max-conversations", "0") as server:
        argv = web_ui_argv(server.url, port, folder, "ChatUser", "ReconnectUser", "--reconnect-every", "2s")
        with locust_process(argv, tmp_path / "locust.log", env={"LOCUST_SESSION_API_KEY": SECRET}) as proc:
            base = f"http://127.0.0.1:{port}"
            until(lambda: get(base + "/")[0] == 200, 30, "the web UI")
            scenario = {
                "url": base + "/",
                "chromium": str(chromium),
                "users": 4,
                "spawn_rate": 10,
                "form": {"thinkTime": "200ms", "slo": "echo.p95<5s"},
                "artifacts": str(ARTIFACTS),
                "copies": [str(p) for p in COPIES],
                "min_images": len(FIGURES),
                "min_seconds": 12,
                "timeout": 90,
                "result": str(tmp_path / "browser.json"),
            }
            (tmp_path / "scenario.json").write_text(json.dumps(scenario))
            driver = subprocess.run(
                [sys.executable, str(BROWSER), str(tmp_path / "scenario.json")],
                capture_output=True,
                text=True,
                timeout=420,
                cwd=ROOT,
            )
            result = json.loads((tmp_path / "browser.json").read_text()) if (tmp_path / "browser.json").exists() else {}
            assert driver.returncode == 0 and not result.get("error"), (
                f"{result.get('error')} after {result.get('steps')}\n{driver.stderr[-3000:]}\n"
                f"{(tmp_path / 'locust.log').read_text()[-3000:]}"
            )
            # after the stop: the live summary is the report package's summary.json of the run folder
            until(lambda: (folder / "summary.json").exists(), 60, "summary.json in the run folder")
            status, live = get(base + "/loadtest/summary")
            assert status == 200
            assert json.loads(live) == json.loads((folder / "summary.json").read_text())
            assert proc.poll() is None, "locust exited during the test"
    log = (tmp_path / "locust.log").read_text()

    # the start form: our options with their help text, the session key nowhere in the page
    labels = " ".join(result["form_labels"])
    assert "Think Time (ChatUser pause after a turn ends" in labels and "Slo (Objective checked" in labels
    for page in ("form_html", "conversations_html", "report_html_page"):
        assert SECRET not in result[page], page
        assert "sessionApiKey" not in result[page] and "session_api_key" not in result[page], page
    assert SECRET not in log and all(SECRET not in p.read_text(errors="replace") for p in folder.rglob("*.json*"))

    # the Conversations tab: our figures, non-zero, from our histograms
    assert result["conversations_url"].endswith("?tab=conversations")
    rows = result["conversations"]
    latency, live_rows, stream = _rows(rows, "latency"), _rows(rows, "live"), _rows(rows, "stream")
    assert int(latency["echo"][2]) > 0 and float(latency["echo"][5]) > 0  # count, p95
    assert float(latency["turn"][4]) >= 5.0  # p50 of a 2-step scripted turn with 5 ms between events
    assert int(live_rows["conversations open"][2]) > 0 and int(stream["events"][2]) > 0
    assert int(_rows(rows, "reconnect")["reconnects"][2]) > 0
    assert _rows(rows, "SLO")["status"][2] == "pass"

    # the Report tab: every plot of the report, drawn from the live timeline
    images = result["images"]
    assert [i["name"] for i in images] == list(FIGURES)
    assert all(i["complete"] and i["width"] > 300 and i["height"] > 100 for i in images)
    assert re.search(r"\d+ s of timeline", result["report_status"])
    assert result["download"]["status"] == 200 and "<html" in result["download"]["head"].lower()

    for name in ("webui-conversations.png", "webui-report.png"):
        for where in (ARTIFACTS, *COPIES):
            assert (where / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
