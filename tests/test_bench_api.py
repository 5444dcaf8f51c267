"""`--api` and the V1 options: bench's embedded server speaks the chosen API, V1 conversations get agent settings
(the user's win), secrets are redacted in the settings that run.json and logs show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.bench import BenchPlan, locust_command, make_plan
from loadtest.benchprofiles import EMBEDDED
from loadtest.cli import build_parser
from loadtest.harness.options import OptionError, Settings
from loadtest.openhands.contract import APIS

HOST = "http://127.0.0.1:3000"
SECRET = "sk-agent-settings-7c1d"


def plan_of(*argv: str) -> BenchPlan:
    return make_plan(build_parser(only="bench").parse_args(["bench", *argv]))


def test_embedded_server_speaks_the_chosen_api_and_v1_gets_agent_settings() -> None:
    assert set(EMBEDDED) == set(APIS)
    v0 = plan_of()
    assert v0.server_api_options == ("--api", "v0") and "LOCUST_AGENT_SETTINGS" not in v0.harness_env
    v1 = plan_of("--api", "v1")
    assert v1.server_api_options[:2] == ("--api", "v1") and "--max-runs" in v1.server_api_options
    assert json.loads(v1.harness_env["LOCUST_AGENT_SETTINGS"])["agent"]["llm"]["model"]
    assert "--api=v1" in locust_command(v1, HOST, [], [])
    assert plan_of("--api", "auto").server_api_options[:2] == ("--api", "both")


def test_given_agent_settings_win_and_a_target_gets_none_added() -> None:
    given = json.dumps({"agent": {"llm": {"model": "openai/x", "api_key": SECRET}}})
    plan = plan_of("--api", "v1", "--agent-settings", given)
    assert plan.harness_env["LOCUST_AGENT_SETTINGS"] == given
    assert not any(SECRET in a for a in locust_command(plan, HOST, [], []))
    assert "LOCUST_AGENT_SETTINGS" not in plan_of("--api", "v1", "--target", HOST).harness_env


def test_v1_settings_parse_and_redact(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text(json.dumps({"llm": {"model": "openai/x", "api_key": SECRET}}))  # the agent object alone
    s = Settings.from_options(
        {"api": "auto", "agent_settings": f"@{path}", "v1_socket": "session", "send_via": "rest"}, HOST
    )
    assert s.api == "auto" and s.v1_socket == "session" and s.send_via == "rest"
    assert s.agent_settings == {"agent": {"llm": {"model": "openai/x", "api_key": SECRET}}}
    public = s.public_dict()
    assert public["agent_settings"] == "***" and public["api"] == "auto"
    assert SECRET not in json.dumps(public) and SECRET not in repr(s)
    assert Settings.from_options({}, HOST).api == "v0"  # the default, for now
    with pytest.raises(OptionError) as err:
        Settings.from_options({"agent_settings": '{"api_key": "' + SECRET + '"}'}, HOST)
    assert "--agent-settings" in str(err.value) and SECRET not in str(err.value)
