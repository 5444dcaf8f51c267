"""The harness above the protocol runs V1 unchanged: headless Locust `--api v1` against `loadtest serve --api v1`
with injected delays measures what was injected; streamed tokens give `ttft`/`token_gap`; `loadtest bench --api v1`
passes with turns measured, as `--api v0` does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.locustrun import LocustRun, locust_argv, read_folder, start_locust, wait_bounded
from tests.support.procs import ROOT, ReferenceServer

pytestmark = pytest.mark.slow

ECHO_MS, EVENT_MS = 40.0, 40.0
# V1 `--script finish` (docs/contracts.md): the user MessageEvent at E; running at E+d; the finish ActionEvent
# (the first agent event) at E+2d after its stats update; the final execution_status at E+3d and the end-of-run
# full_state, which ends the turn, right after it.
EXPECTED = {"echo": ECHO_MS, "first_event": ECHO_MS + 2 * EVENT_MS, "turn": ECHO_MS + 4 * EVENT_MS}
TOLERANCE_MS = EVENT_MS / 5  # as tests/harness/test_e2e_chat.py: each counting or stamping error costs a delay
AGENT = {"agent": {"llm": {"model": "loadtest/reference-agent"}}}
STREAMING = {"agent": {"llm": {"model": "loadtest/reference-agent", "stream": True}}}


def run_locust(host: str, folder: Path, *args: str, users: int, run_time: str, env: dict[str, str]) -> LocustRun:
    """`tests.harness.locustrun.run_locust` with the agent settings in Locust's environment (a secret option)."""
    proc = start_locust(locust_argv(host, folder, *args, users=users, run_time=run_time), env)
    rc, out = wait_bounded(proc, 60.0)
    run, lines = read_folder(folder)
    return LocustRun(rc, out, folder, run, lines)


def _server(*extra: str) -> ReferenceServer:
    return ReferenceServer(
        "--api", "v1", "--echo-delay-ms", str(ECHO_MS), "--event-delay-ms", str(EVENT_MS), "--script", "finish",
        "--max-runs", "0", *extra,
    )  # fmt: skip


@pytest.mark.parametrize("socket", ["events", "session"])
def test_v1_chat_latencies_agree_with_injected_delays(tmp_path: Path, socket: str) -> None:
    with _server() as server:
        r = run_locust(
            server.url, tmp_path / "run", "--api", "v1", "--v1-socket", socket, "--think-time", "50ms",
            "ChatUser", users=3, run_time="5s", env={"LOCUST_AGENT_SETTINGS": json.dumps(AGENT)},
        )  # fmt: skip
    assert r.rc == 0, r.output[-3000:]
    offset = r.p50("echo") - ECHO_MS  # loopback and scheduling; later events are timed from the echo
    assert 0.0 <= offset <= 2 * TOLERANCE_MS, r.p50("echo")
    for metric, expected in EXPECTED.items():
        assert abs(r.p50(metric) - offset - expected) <= TOLERANCE_MS, (metric, r.p50(metric), offset)
    assert r.counter("turns") >= 10 and r.counter("actions") >= r.counter("turns")
    assert r.counter("gaps") == 0 and r.counter("duplicates") == 0 and r.counter("failures") == 0
    assert "ttft" not in r.total().hists  # nothing streamed
    assert r.run["verdict"] == "pass" and r.run["settings"]["api"] == "v1"
    assert r.run["settings"]["agent_settings"] == "***"
    assert "--api v1" in r.output and "socketio  turn" in r.output


def test_v1_streamed_tokens_give_ttft_and_token_gap(tmp_path: Path) -> None:
    rate = 200.0  # deltas per second: 5 ms apart
    with _server("--stream-tokens", "4", "--stream-rate", str(rate)) as server:
        r = run_locust(
            server.url, tmp_path / "run", "--api", "v1", "--think-time", "50ms", "--slo", "ttft.p95<2s",
            "ChatUser", users=2, run_time="4s", env={"LOCUST_AGENT_SETTINGS": json.dumps(STREAMING)},
        )  # fmt: skip
    assert r.rc == 0, r.output[-3000:]
    total = r.total()
    assert total.hists["ttft"].count >= 5 and total.counter("deltas") >= 4 * total.hists["ttft"].count
    # the first delta comes in the reply's slot, before the event the deltas build
    assert r.p50("echo") < r.p50("ttft") < r.p50("first_event")
    gap = total.hists["token_gap"].percentile(50) or 0.0
    assert abs(gap - 1000.0 / rate) <= TOLERANCE_MS, gap
    assert total.counter("gaps") == 0 and total.counter("events") > 0
    assert [s["expr"] for s in r.run["slo"]] == ["ttft.p95<2s"] and r.run["slo"][0]["ok"] is True


@pytest.mark.parametrize("api", ["v1", "v0"])
def test_bench_runs_either_api_with_turns_measured(tmp_path: Path, api: str) -> None:
    folder = tmp_path / "bench"
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", "bench", "--api", api, "--users", "5", "--run-time", "10s", "--quiet",
         "--report-dir", str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert "verdict: pass" in proc.stdout
    summary = json.loads((folder / "summary.json").read_text())
    run = json.loads((folder / "run.json").read_text())
    assert run["settings"]["api"] == api
    text = json.dumps(summary)
    assert '"turn"' in text and '"echo"' in text
    lines = [json.loads(x) for x in (folder / "timeline.jsonl").read_text().splitlines() if x.strip()]
    turns = sum(line["counters"].get("turns", 0) for line in lines)
    assert turns >= 20, turns
    assert sum(line["counters"].get("gaps", 0) for line in lines) == 0


def test_every_profile_runs_against_v1_unchanged(tmp_path: Path) -> None:
    env = {"LOCUST_AGENT_SETTINGS": json.dumps(AGENT)}
    with _server() as server:
        paced = run_locust(
            server.url, tmp_path / "paced", "--api", "v1", "--action-pace", "500ms", "PacedUser", users=3,
            run_time="4s", env=env,
        )  # fmt: skip
        recon = run_locust(
            server.url, tmp_path / "recon", "--api", "v1", "--think-time", "50ms", "--reconnect-every", "1s",
            "ReconnectUser", users=3, run_time="5s", env=env,
        )  # fmt: skip
        idle = run_locust(server.url, tmp_path / "idle", "--api", "v1", "IdleUser", users=4, run_time="3s", env=env)
    for r in (paced, recon, idle):
        assert r.rc == 0, r.output[-3000:]
        assert r.counter("gaps") == 0 and r.counter("duplicates") == 0, r.folder
    assert paced.counter("actions") >= 15 and paced.total().hists["echo_co"].count >= 10
    assert recon.counter("reconnects") >= 6 and recon.total().hists["reconnect"].count >= 6
    assert recon.counter("turns") >= 5 and recon.counter("failures.reconnect") == 0
    assert max(line["gauges"]["sockets"] for line in idle.lines) == 4 and idle.counter("actions") == 0


def test_auto_probes_once_per_process_and_says_what_it_found(tmp_path: Path) -> None:
    with _server() as server:
        r = run_locust(
            server.url, tmp_path / "auto", "--api", "auto", "--think-time", "50ms", "ChatUser", users=4,
            run_time="3s", env={"LOCUST_AGENT_SETTINGS": json.dumps(AGENT)},
        )  # fmt: skip
    assert r.rc == 0, r.output[-3000:]
    found = [line for line in r.output.splitlines() if "OpenHands API" in line]
    assert len(found) == 1 and "OpenHands API v1 (--api auto: GET /server_info names sdk_version" in found[0], found
    assert r.counter("turns") >= 4 and r.run["settings"]["api"] == "auto"
