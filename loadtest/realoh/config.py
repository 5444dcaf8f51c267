"""What a real OpenHands 1.6.0 server needs to run on loopback with the `cli` runtime. Pure: no I/O.

`config.toml` is read from the server's working directory; the environment completes it. Never
`RUNTIME=local`: that runtime edits /etc/sudoers, binds 0.0.0.0 and leaks processes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MODEL = "openai/mock-model"
API_KEY = "sk-mock"
"""The mock LLM ignores keys; OpenHands refuses to start a conversation without one."""


@dataclass(frozen=True)
class ServerPlan:
    """Where and how OpenHands runs."""

    run_dir: Path
    """Working directory: config.toml, store/, workspace/, logs/, pids.json."""
    port: int
    llm_url: str
    """Mock LLM base URL including `/v1`."""
    max_concurrent_conversations: int = 200
    close_delay_s: int = 60
    max_iterations: int = 500
    """Agent steps per conversation, summed over all its turns (OpenHands 1.6.0 never resets the count; at
    the limit the agent goes to state `error`). A load test sends many turns per conversation; the mock LLM
    ends each turn in one or two steps, so the bound only stops a runaway agent."""
    llm_num_retries: int = 0
    llm_retry_min_wait_s: int = 1
    llm_retry_max_wait_s: int = 2

    @property
    def store(self) -> Path:
        return self.run_dir / "store"

    @property
    def workspace(self) -> Path:
        return self.run_dir / "workspace"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _q(value: str | Path) -> str:
    """A TOML basic string (JSON string syntax is valid TOML for these values)."""
    return json.dumps(str(value))


def config_toml(plan: ServerPlan) -> str:
    """config.toml for the server's working directory."""
    return f"""\
# Written by `loadtest openhands up`; rewritten on every start.
[core]
runtime = "cli"
file_store = "local"
file_store_path = {_q(plan.store)}
workspace_base = {_q(plan.workspace)}
max_iterations = {plan.max_iterations}
max_concurrent_conversations = {plan.max_concurrent_conversations}
enable_browser = false

[llm]
model = {_q(MODEL)}
base_url = {_q(plan.llm_url)}
api_key = {_q(API_KEY)}
num_retries = {plan.llm_num_retries}
retry_min_wait = {plan.llm_retry_min_wait_s}
retry_max_wait = {plan.llm_retry_max_wait_s}
native_tool_calling = true

[agent]
enable_browsing = false
enable_jupyter = false
enable_mcp = false

[sandbox]
close_delay = {plan.close_delay_s}
"""


def openhands_env(plan: ServerPlan, base: dict[str, str]) -> dict[str, str]:
    """The server's environment: `base` (normally os.environ) minus variables that would change the setup."""
    env = {k: v for k, v in base.items() if not k.startswith(("OH_", "LLM_", "SANDBOX_")) and k != "RUNTIME"}
    for key in ("SESSION_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "REDIS_HOST", "port"):
        env.pop(key, None)
    env.update(
        {
            "SERVE_FRONTEND": "false",
            "RUNTIME": "cli",
            "FILE_STORE": "local",
            "FILE_STORE_PATH": str(plan.store),
            "OH_PERSISTENCE_DIR": str(plan.store),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "OPENHANDS_SUPPRESS_BANNER": "1",
            "DISABLE_VSCODE_PLUGIN": "true",
            "ENABLE_V1": "0",
            "OH_SANDBOX_KIND": "openhands.app_server.sandbox.process_sandbox_service.ProcessSandboxServiceInjector",
            "OH_SANDBOX_SPEC_KIND": (
                "openhands.app_server.sandbox.process_sandbox_spec_service.ProcessSandboxSpecServiceInjector"
            ),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def server_argv(python: Path, port: int) -> list[str]:
    """The OpenHands server command (uvicorn on loopback; never `python -m openhands.server`, which binds 0.0.0.0)."""
    return [str(python), "-m", "uvicorn", "openhands.server.listen:app", "--host", "127.0.0.1", "--port", str(port)]


def settings_payload(plan: ServerPlan) -> dict[str, object]:
    """Body of `POST /api/settings` for the single anonymous user (needed before the first conversation)."""
    return {
        "language": "en",
        "agent": "CodeActAgent",
        "max_iterations": plan.max_iterations,
        "confirmation_mode": False,
        "security_analyzer": "",
        "llm_model": MODEL,
        "llm_api_key": API_KEY,
        "llm_base_url": plan.llm_url,
        "enable_default_condenser": False,
        "enable_sound_notifications": False,
        "enable_proactive_conversation_starters": False,
        "enable_solvability_analysis": False,
        "user_consents_to_analytics": False,
        "v1_enabled": False,
    }
