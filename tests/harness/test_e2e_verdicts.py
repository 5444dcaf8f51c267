"""Real runs for each verdict: a target never reached, a server that refuses every conversation, a
server killed mid-run, and a healthy bench; each says why, on the console and in every report file."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.harness.locustrun import locust_argv, read_folder, start_locust, wait_bounded
from tests.support.procs import ROOT, ReferenceServer

pytestmark = pytest.mark.slow


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


def _bench(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "loadtest", "bench", "--report-dir", str(folder), "--quiet", "--no-pin", *args]
    return subprocess.run(argv, cwd=str(ROOT), capture_output=True, text=True, timeout=timeout)


def _verdict_everywhere(folder: Path) -> tuple[str, str]:
    """The verdict and reason, checked to be the same in run.json, summary.json, summary.md and report.html."""
    run = json.loads((folder / "run.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    verdict, reason = run["verdict"], run["verdict_reason"]
    assert (summary["verdict"], summary["verdict_reason"]) == (verdict, reason)
    assert reason in (folder / "summary.md").read_text()
    html = (folder / "report.html").read_text()
    first_screen = html[: html.index("</h1>") + 2000]
    assert verdict.upper() in first_screen and reason.split(":")[0] in first_screen
    return verdict, reason


def test_unreachable_target_is_an_error_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    folder = tmp_path / "unreachable"
    done = _bench(folder, "--target", url, "--users", "3", "--run-time", "8s")
    assert done.returncode == 1, done.stdout + done.stderr
    verdict, reason = _verdict_everywhere(folder)
    assert verdict == "error" and f"the target {url} was never reached" in reason
    assert f"verdict: error: the target {url} was never reached" in done.stdout


class _NotOpenHands(BaseHTTPRequestHandler):
    """Answers 404 to every request (an HTTP server that is not an OpenHands server)."""

    def _no(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _no

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def not_openhands() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotOpenHands)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_creation_refused_is_an_error(tmp_path: Path, not_openhands: str) -> None:
    folder = tmp_path / "notfound"
    done = _bench(folder, "--target", not_openhands, "--users", "3", "--run-time", "6s")
    assert done.returncode == 1, done.stdout + done.stderr
    verdict, reason = _verdict_everywhere(folder)
    assert verdict == "error" and f"{not_openhands} answered but refused every attempt" in reason and "404" in reason, (
        reason
    )


def test_server_killed_and_never_back_fails_naming_the_outage(tmp_path: Path) -> None:
    folder = tmp_path / "killed"
    server = ReferenceServer("--event-delay-ms", "20", "--script", "run,message", "--no-http-limit")
    argv = locust_argv(
        server.url, folder, "--think-time", "200ms", "--turn-timeout", "3s", "--connect-timeout", "2s",
        "ChatUser", users=5, run_time="20s",
    )  # fmt: skip
    argv.remove("--skip-report")
    proc = start_locust(argv)
    try:
        time.sleep(8)
        server.kill()
        rc, out = wait_bounded(proc, 80)
    finally:
        server.stop()
    assert rc == 3, out[-3000:]
    verdict, reason = _verdict_everywhere(folder)
    assert verdict == "fail" and "outage_s==0 (outage: " in reason and "every socket down" in reason, reason
    assert f"loadtest verdict: fail: {reason}" in out
    run, _ = read_folder(folder)
    assert run["slo_source"] == "default" and [s["expr"] for s in run["slo"]] == [
        "errors.ratio<1%",
        "gaps==0",
        "outage_s==0",
    ]


def test_healthy_bench_passes_its_default_slos_and_slo_none_turns_them_off(tmp_path: Path) -> None:
    done = _bench(tmp_path / "ok", "--users", "3", "--run-time", "6s")
    assert done.returncode == 0, done.stdout + done.stderr
    verdict, reason = _verdict_everywhere(tmp_path / "ok")
    assert verdict == "pass" and reason.startswith("all 3 default SLO(s) met"), reason
    assert f"verdict: pass: {reason}" in done.stdout
    off = _bench(tmp_path / "off", "--users", "2", "--run-time", "4s", "--slo", "none")
    assert off.returncode == 0, off.stdout + off.stderr
    run = json.loads((tmp_path / "off" / "run.json").read_text())
    assert run["slo"] == [] and run["slo_source"] == "none" and run["verdict"] == "pass"
