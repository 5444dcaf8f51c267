"""`loadtest bench` takes every harness option under its `locust -f locustfile.py` name and passes it on.

Parse level: each option given to bench reaches the harness's Settings through the exact Locust command
(and environment) bench would run, with the value it has when given to Locust directly. Process level:
bad values exit 2 naming the option, nothing started; a real run against the embedded reference
server (which requires a session key) uses the key, the message and the think time, and the key
appears nowhere.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtest.bench import OWN_OPTIONS, locust_command, make_plan
from loadtest.cli import build_parser
from loadtest.harness.options import GROUPS, OPTIONS, Settings, add_options

ROOT = Path(__file__).resolve().parents[1]
HOST = "http://127.0.0.1:3000"
KEY = "sk-bench-option-5e1f0c9a77"

# a value for every option, other than its default and the chat profile's
SAMPLES: dict[str, str] = {
    "--session-api-key": KEY,
    "--key-via": "header",
    "--providers": "github,gitlab",
    "--connect-timeout": "7s",
    "--wait-ready": "off",
    "--ws-deflate": "on",
    "--ready-timeout": "9s",
    "--ready-poll": "2s",
    "--seed-settings": '{"llm_model": "openai/test"}',
    "--source-ips": "127.0.0.2-127.0.0.4",
    "--conversation-ids": "ids.txt",  # relative: bench makes it absolute (Locust runs in the project folder)
    "--message": "@message.txt",
    "--think-time": "2s..4s",
    "--action-pace": "3s",
    "--action-rate": "12.5",
    "--turn-timeout": "45s",
    "--reconnect-every": "4s",
    "--drop-mode": "clean",
    "--reconnect-attempts": "3",
    "--slo": "echo.p95<300ms",
    "--slo-abort": "20s",
    "--slo-window": "6s",
    "--shape": "ramp",
    "--shape-steps": "5,10@20s",
    "--step-duration": "12s",
    "--step-spawn-rate": "4",
    "--step-warmup": "2s",
    "--throttle-users": "6",
    "--throttle-threshold": "5%",
    "--report-dir": "run-folder",
    "--run-label": "nightly",
    "--locust-rows": "batched",
    "--lag-warning": "250ms",
    "--api": "v1",
    "--agent-settings": '{"agent": {"llm": {"model": "openai/test", "api_key": "sk-bench-secret"}}}',
    "--v1-socket": "session",
    "--send-via": "rest",
}
FIELD = {"slo": "slos", "shape_steps": "shape_steps_text", "lag_warning": "lag_warning_ms"}


def _bench_args(*argv: str) -> argparse.Namespace:
    return build_parser(only="bench").parse_args(["bench", *argv])


def _locust_settings(argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as the harness reads them from this Locust command line and environment."""
    from locust.argument_parser import get_parser

    for name in [n for n in os.environ if n.startswith("LOCUST_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parser = get_parser()
    # once loadtest.harness.users has been imported (by any earlier test), the harness's own
    # init_command_line_parser listener has already added our options to Locust's parser
    if "--session-api-key" not in parser._option_string_actions:
        add_options(parser)
    opts = parser.parse_args(argv[argv.index("locust") + 1 :])
    return Settings.from_options(opts, opts.host)


def test_samples_cover_every_bench_option() -> None:
    assert set(SAMPLES) == {o.flag for o in OPTIONS if o.bench}
    # bench builds the report itself (and passes --skip-report to Locust): the one option it leaves out
    assert [o.flag for o in OPTIONS if not o.bench] == ["--skip-report"]


def test_help_lists_every_harness_option_grouped() -> None:
    text = _help()
    sections = text.split("\n\n")
    for key, title in GROUPS.items():
        section = next((s for s in sections if s.startswith(title + ":")), None)
        assert section is not None, title
        for opt in OPTIONS:
            if opt.bench and opt.group == key:
                assert f"\n  {opt.flag} " in section, (title, opt.flag)


def _help() -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", "bench", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("flag", sorted(SAMPLES))
def test_each_option_reaches_the_harness_settings(flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ids.txt").write_text("conv-a\nconv-b\n")
    (tmp_path / "message.txt").write_text("Run the suite.\n")
    value = SAMPLES[flag]
    plan = make_plan(_bench_args(flag, value))
    args = _bench_args(flag, value)
    argv = locust_command(plan, HOST, args.slo, [])
    got = _locust_settings(argv, dict(plan.harness_env), monkeypatch)
    # the same value given to Locust directly (files by absolute name), on top of the same profile options
    given = value
    if flag == "--conversation-ids":
        given = str(tmp_path / value)
    elif flag == "--message":
        given = "@" + str(tmp_path / value[1:])
    direct_argv = [
        "locust", "-f", "locustfile.py", "--host", HOST, *plan.profile.locust_options, flag, given, "ChatUser",
    ]  # fmt: skip
    want = _locust_settings(direct_argv, {}, monkeypatch)
    default = _locust_settings(
        ["locust", "-f", "locustfile.py", "--host", HOST, *plan.profile.locust_options], {}, monkeypatch
    )
    dest = flag.lstrip("-").replace("-", "_")
    field = FIELD.get(dest, dest)
    if dest == "report_dir":
        assert got.report_dir == str(tmp_path / value) == str(plan.run_dir)
    else:
        assert getattr(got, field) == getattr(want, field), flag
    assert getattr(got, field) != getattr(default, field), f"{flag}: the sample is the default"
    if dest not in OWN_OPTIONS:
        assert any(a.startswith(flag) for a in argv) or (flag in SECRETS and plan.harness_env), flag


SECRETS = ("--session-api-key", "--seed-settings", "--agent-settings")


@pytest.mark.parametrize("flag", SECRETS)
def test_secrets_travel_in_the_environment_never_on_the_command_line(flag: str) -> None:
    plan = make_plan(_bench_args(flag, SAMPLES[flag]))
    argv = locust_command(plan, HOST, [], [])
    assert not any(SAMPLES[flag] in a for a in argv)
    assert list(plan.harness_env.values()) == [SAMPLES[flag]]
    assert SAMPLES[flag] not in repr(plan)


def test_options_given_to_bench_override_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    args = _bench_args("--profile", "capacity", "--shape-steps", "3,6", "--step-duration", "5s")
    plan = make_plan(args)
    got = _locust_settings(locust_command(plan, HOST, [], ["--loglevel", "DEBUG"]), {}, monkeypatch)
    assert got.shape == "capacity" and got.shape_steps_text == "3,6" and got.step_duration == 5.0


BAD = [
    ("--think-time", "3x", "--think-time 2s"),
    ("--key-via", "carrier", "choose query, header, cookie or first-frame"),
    ("--conversation-ids", "missing-ids.txt", "no such file"),
    ("--action-rate", "-2", "≥ 0"),
    ("--shape", "zigzag", "choose none, step"),
    ("--source-ips", "127.0.0.9-127.0.0.2", "lower to the higher"),
    ("--seed-settings", "{not json", "not JSON"),
    ("--api", "v2", "choose v0, v1 or auto"),
    ("--agent-settings", '{"agent": {"api_key": "sk-not-echoed"', "not JSON"),
    ("--agent-settings", '{"api_key": "sk-not-echoed"}', 'needs "agent"'),
    ("--v1-socket", "socketio", "choose events or session"),
]


@pytest.mark.parametrize(("flag", "value", "fix"), BAD, ids=[b[0] for b in BAD])
def test_bad_value_exits_2_naming_the_option_and_starts_nothing(
    flag: str, value: str, fix: str, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", "bench", flag, value],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, (proc.stdout[-2000:], proc.stderr[-2000:])
    line = next((x for x in proc.stderr.splitlines() if f"{flag}=" in x), "")
    assert fix in line, proc.stderr[-2000:]
    if flag in SECRETS:
        assert value not in proc.stderr and "sk-not-echoed" not in proc.stderr  # may hold an LLM key
    assert "reference server" not in proc.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_bench_run_uses_the_key_message_and_think_time(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    argv = [
        sys.executable, "-m", "loadtest", "bench", "--report-dir", str(folder), "--users", "2", "--run-time", "4s",
        "--quiet", "--no-pin", f"--server-option=--session-api-key={KEY}",
        "--session-api-key", KEY, "--message", "Hello from bench", "--think-time", "200ms",
    ]  # fmt: skip
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=120, check=False)
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console[-3000:].decode(errors="replace")
    settings = json.loads((folder / "run.json").read_text())["settings"]
    assert settings["session_api_key"] == "***"
    assert settings["message"] == "Hello from bench" and settings["think_time"] == [0.2, 0.2]
    summary: dict[str, Any] = json.loads((folder / "summary.json").read_text())
    connect, turn = summary["metrics"]["connect"], summary["metrics"]["turn"]
    # the server refuses a socket without its key: connects and turns that succeeded prove the key was sent
    assert connect["count"] >= 2 and connect["failures"] == 0, connect
    assert turn["count"] - turn["failures"] >= 4, turn
    blobs = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    blobs["<console>"] = console
    assert {"run.json", "locust.log", "console.log"} <= set(blobs)
    assert [name for name, data in blobs.items() if KEY.encode() in data] == []
