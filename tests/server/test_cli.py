"""`loadtest serve` as a process: the ready line, clean signals, option validation, --help, profiles."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from loadtest.server.cli import EPILOG
from tests.server.peers import create, rest_events, state_of, wait_until
from tests.support.procs import ROOT, ReferenceServer

CONTRACT_OPTIONS = (
    "--session-api-key", "--seed", "--script", "--event-delay-ms", "--echo-delay-ms", "--http-limit",
    "--no-http-limit", "--handshake-rate", "--action-rate", "--action-limit-mode", "--max-conversations",
    "--drop-every", "--drop-share", "--drop-mode", "--stall-after", "--replay-skip-every", "--replay-repeat-every",
    "--ping-interval", "--ping-timeout", "--delay-jitter", "--profile",
)  # fmt: skip


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtest", "serve", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
    )


def test_help_documents_every_contract_knob() -> None:
    out = _serve("--help")
    assert out.returncode == 0
    for option in CONTRACT_OPTIONS:
        assert option in out.stdout, option
    assert "loadtest serve --port 3000" in EPILOG


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--port", "x"), "argument --port: bad value 'x'; for example --port 3000"),
        (
            ("--drop-mode", "sideways"),
            "--drop-mode: bad value 'sideways' (clean|abrupt); for example --drop-mode clean",
        ),
        (("--script", "run,dance"), "--script: bad value 'run,dance'"),
        (("--drop-every", "5"), "--drop-share"),
        (("--profile", "/nonexistent/p.json"), "--profile: bad value '/nonexistent/p.json'"),
        (("--event-delay-ms", "-3"), "--event-delay-ms: bad value -3.0 (a number >= 0); for example"),
    ],
)
def test_bad_values_exit_2_naming_option_value_and_example(args: tuple[str, ...], needle: str) -> None:
    out = _serve(*args)
    assert out.returncode == 2
    assert needle in out.stderr
    assert "for example" in out.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_port_zero_one_ready_line_and_clean_stop(sig: signal.Signals) -> None:
    srv = ReferenceServer()
    try:
        assert srv.lines == [f"loadtest server listening on http://127.0.0.1:{srv.port}"]
        assert requests.get(f"{srv.url}/alive", timeout=5).status_code == 200
        srv.signal(sig)
        assert srv.proc.wait(10) == 0
    finally:
        srv.stop()
    assert "Traceback" not in srv.output()


def test_profile_file_sets_script_and_options_override_it(tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text('{"script": "think,finish", "event_delay_ms": 50, "max_conversations": 0}')
    with ReferenceServer("--profile", str(profile), "--event-delay-ms", "1") as srv:
        cid = create(srv.url, initial_user_msg="go")
        assert wait_until(lambda: state_of(rest_events(srv.url, cid)[-1]) == "finished", timeout=3)
        kinds = [e.get("action") or e.get("observation") for e in rest_events(srv.url, cid)]
        assert "think" in kinds and "finish" in kinds and "run" not in kinds
