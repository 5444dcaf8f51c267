"""Settings: one validation for every source of values, errors that name the option, secrets redacted."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from loadtest.benchprofiles import PROFILES
from loadtest.harness.options import OPTIONS, OptionError, Settings, add_options

HOST = "http://127.0.0.1:3000"


def _parser() -> argparse.ArgumentParser:
    from locust.argument_parser import LocustArgumentParser

    import configargparse  # Locust's parser base; registration must work on it

    parser = LocustArgumentParser(config_file_parser_class=configargparse.DefaultConfigFileParser)
    add_options(parser)
    return parser


def _settings(*argv: str, host: str | None = HOST) -> Settings:
    return Settings.from_options(_parser().parse_args(list(argv)), host)


def test_defaults() -> None:
    s = _settings()
    assert s.host == HOST and s.session_api_key == "" and s.key_via == "query"
    assert s.think_time == (1.0, 1.0) and s.action_pace == 1.0 and s.action_rate == 0.0
    assert s.turn_timeout == 120.0 and s.reconnect_every == 30.0 and s.slos == ()
    assert [st.value for st in s.shape_steps()] == [10, 20, 40]
    assert s.lag_warning_ms == pytest.approx(100.0)


def test_every_option_has_env_var_help_and_shows_in_the_web_ui_except_the_key() -> None:
    parser = _parser()
    actions = {a.dest: a for a in parser._actions}
    for opt in OPTIONS:
        action = actions[opt.dest]
        assert opt.env_var == "LOCUST_" + opt.dest.upper()
        assert action.help
        # secrets (the key, settings that may hold an LLM key) stay out of the web UI: Locust would embed them
        assert action.include_in_web_ui is (not opt.secret)  # type: ignore[attr-defined]
        assert opt.secret is (opt.flag in ("--session-api-key", "--seed-settings", "--agent-settings"))


def test_values_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUST_THINK_TIME", "1s..3s")
    monkeypatch.setenv("LOCUST_SESSION_API_KEY", "s3cret")
    s = _settings("--slo", "echo.p95<250ms", "--slo", "gaps==0")
    assert s.think_time == (1.0, 3.0) and s.session_api_key == "s3cret"
    assert [x.expr for x in s.slos] == ["echo.p95<250ms", "gaps==0"]


def test_web_ui_strings_parse_alike() -> None:
    form: dict[str, Any] = {
        "think_time": "250ms",
        "action_rate": "20",
        "slo": "echo.p95<1s,gaps==0",
        "skip_report": True,
    }
    s = Settings.from_options(form, HOST)
    assert s.think_time == (0.25, 0.25) and s.action_rate == 20.0 and len(s.slos) == 2 and s.skip_report


@pytest.mark.parametrize(
    ("argv", "flag", "fix"),
    [
        (["--think-time", "soon"], "--think-time", "e.g. --think-time 2s"),
        (["--think-time", "3s..1s"], "--think-time", "LOW ≤ HIGH"),
        (["--action-pace", "0"], "--action-pace", "> 0"),
        (["--action-rate", "-1"], "--action-rate", "≥ 0"),
        (["--turn-timeout", "x"], "--turn-timeout", "e.g. --turn-timeout 120s"),
        (["--reconnect-attempts", "2.5"], "--reconnect-attempts", "whole number"),
        (["--shape-steps", "10,x"], "--shape-steps", "10,20@60s,40"),
        (["--slo", "echo.p95 < quick"], "--slo", "echo.p95<250ms"),
        (["--throttle-threshold", "lots"], "--throttle-threshold", "1%"),
        (["--conversation-ids", "/nonexistent/ids.txt"], "--conversation-ids", "no such file"),
        (["--message", "@/nonexistent/msg.txt"], "--message", "no such file"),
        (["--run-label", "../up"], "--run-label", "without slashes"),
    ],
)
def test_bad_values_name_option_value_and_fix(argv: list[str], flag: str, fix: str) -> None:
    with pytest.raises(OptionError) as info:
        _settings(*argv)
    message = str(info.value)
    assert info.value.flag == flag and message.startswith(flag + "=")
    assert repr(argv[1]) in message and fix in message


@pytest.mark.parametrize("host", [None, "", "127.0.0.1:3000", "ftp://x"])
def test_missing_or_bad_host_names_host(host: str | None) -> None:
    with pytest.raises(OptionError, match=r"--host.*--host http://127\.0\.0\.1:3000"):
        _settings(host=host)


def test_files_and_secret_redaction(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("# comment\nabc\n\ndef\n")
    msg = tmp_path / "m.txt"
    msg.write_text("Run the tests.\n")
    s = _settings("--conversation-ids", str(ids), "--message", f"@{msg}", "--session-api-key", "s3cret")
    assert s.conversation_ids == ("abc", "def") and s.message == "Run the tests."
    public = s.public_dict()
    assert public["session_api_key"] == "***" and "s3cret" not in repr(public) and "s3cret" not in repr(s)
    assert public["conversation_ids"] == 2
    with pytest.raises(OptionError) as info:
        Settings.from_options({"session_api_key": "s3cret", "think_time": "bad"}, HOST)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_bench_profile_passes_options_the_harness_accepts(name: str) -> None:
    profile = PROFILES[name]
    settings = _settings(*profile.locust_options)
    assert profile.locust_args[-1] in {"ChatUser", "PacedUser", "ReconnectUser", "IdleUser"}
    opts = profile.locust_options
    assert settings.shape == dict(zip(opts[::2], opts[1::2], strict=True)).get("--shape", "none")


def test_literal_settings_match_the_code_that_reads_them() -> None:
    from typing import get_args

    from loadtest.harness import options
    from loadtest.harness.shapes import LoadShape
    from loadtest.openhands.config import KEY_VIA, KeyVia
    from loadtest.openhands.v1.config import KEY_VIA as V1_KEY_VIA

    assert get_args(options.KeyVia) == (*get_args(KeyVia), "first-frame") == (*KEY_VIA, "first-frame")
    assert set(get_args(options.KeyVia)) == set(KEY_VIA) | set(V1_KEY_VIA)
    assert set(options.SHAPES) == {"none", *LoadShape.KINDS}
    for flag, kind in (("--key-via", options.KeyVia), ("--drop-mode", options.DropMode)):
        assert options.option(flag).choices == get_args(kind)
    assert options.option("--locust-rows").choices == get_args(options.LocustRows)
