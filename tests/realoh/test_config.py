"""config.toml, environment, command line and settings for a real OpenHands 1.6.0 (pure)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from loadtest.realoh.config import ServerPlan, config_toml, openhands_env, server_argv, settings_payload
from loadtest.realoh.install import is_installed

PLAN = ServerPlan(run_dir=Path("/tmp/oh run"), port=3123, llm_url="http://127.0.0.1:4010/v1")


def test_config_toml_uses_the_cli_runtime_and_the_mock_llm() -> None:
    cfg = tomllib.loads(config_toml(PLAN))
    core = cfg["core"]
    assert core["runtime"] == "cli" and core["file_store"] == "local"
    assert core["file_store_path"] == "/tmp/oh run/store" and core["workspace_base"] == "/tmp/oh run/workspace"
    assert core["max_concurrent_conversations"] == 200 and core["enable_browser"] is False
    assert cfg["llm"]["base_url"] == "http://127.0.0.1:4010/v1" and cfg["llm"]["model"] == "openai/mock-model"
    assert cfg["llm"]["native_tool_calling"] is True and cfg["llm"]["num_retries"] == 0
    assert cfg["agent"] == {"enable_browsing": False, "enable_jupyter": False, "enable_mcp": False}
    assert cfg["sandbox"]["close_delay"] == 60


def test_environment_never_selects_the_local_runtime_and_drops_stray_settings() -> None:
    base = {"PATH": "/bin", "RUNTIME": "local", "OH_X": "1", "SESSION_API_KEY": "s", "LLM_API_KEY": "k", "port": "1"}
    env = openhands_env(PLAN, base)
    assert env["RUNTIME"] == "cli" and env["PATH"] == "/bin"
    assert env["SERVE_FRONTEND"] == "false" and env["ENABLE_V1"] == "0"
    assert env["OH_SANDBOX_KIND"].endswith("ProcessSandboxServiceInjector")
    assert env["OH_SANDBOX_SPEC_KIND"].endswith("ProcessSandboxSpecServiceInjector")
    assert env["FILE_STORE_PATH"] == env["OH_PERSISTENCE_DIR"] == "/tmp/oh run/store"
    for gone in ("OH_X", "SESSION_API_KEY", "LLM_API_KEY", "port"):
        assert gone not in env


def test_server_binds_loopback_only() -> None:
    argv = server_argv(Path("/v/bin/python"), 3123)
    assert argv[1:4] == ["-m", "uvicorn", "openhands.server.listen:app"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[-1] == "3123"


def test_settings_payload_points_at_the_mock() -> None:
    body = settings_payload(PLAN)
    assert body["llm_base_url"] == PLAN.llm_url and body["agent"] == "CodeActAgent"
    assert body["confirmation_mode"] is False and body["llm_api_key"]


def test_is_installed_looks_for_the_1_6_0_dist_info(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert not is_installed(venv)
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    site = venv / "lib" / "python3.12" / "site-packages"
    (site / "openhands_ai-1.5.0.dist-info").mkdir(parents=True)
    (site / "openhands_ai-1.5.0.dist-info" / "METADATA").write_text("")
    assert not is_installed(venv)
    (site / "openhands_ai-1.6.0.dist-info").mkdir()
    (site / "openhands_ai-1.6.0.dist-info" / "METADATA").write_text("")
    assert is_installed(venv)
