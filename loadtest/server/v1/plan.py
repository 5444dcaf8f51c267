"""The scripted agent's steps (`--script`, shared with V0 through `agent.turn_steps`) as V1 tool calls. Pure.

| step    | V1 events                                              |
| ------- | ------------------------------------------------------ |
| run     | ActionEvent `terminal` + ObservationEvent (output)     |
| edit    | ActionEvent `file_editor` str_replace + observation    |
| write   | ActionEvent `file_editor` create + observation         |
| read    | ActionEvent `file_editor` view + observation (output)  |
| think   | ActionEvent `think` + observation                      |
| message | an agent MessageEvent (no tool call)                   |
| finish  | ActionEvent `finish` + observation; ends the turn      |
| error   | the run fails: `execution_status=error` + ConversationErrorEvent |
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from loadtest.server.agent import turn_steps
from loadtest.server.config import ServerConfig
from loadtest.server.events import filler_text
from loadtest.server.v1.events import observation_body

ERROR_CODE = "LLMServiceUnavailableError"
ERROR_DETAIL = "litellm.InternalServerError: simulated agent failure (loadtest reference server)."


@dataclass(frozen=True, slots=True)
class Step:
    """One LLM call of the agent and what it produces."""

    kind: str  # tool | message | error
    tool: str = ""
    action: dict[str, object] | None = None
    observation: dict[str, object] | None = None
    text: str = ""  # the streamed reply text (and an agent message's content)


def _tool(tool: str, action: dict[str, object], observation: dict[str, object], text: str) -> Step:
    return Step("tool", tool, action, observation, text)


def step_for(name: str, content: str, rng: random.Random, output_bytes: int) -> Step:
    if name == "run":
        command = "ls -l"
        output = filler_text(rng, output_bytes)
        metadata = {"exit_code": 0, "pid": -1, "username": "openhands", "hostname": "sandbox",
                    "working_dir": "/workspace", "py_interpreter_path": "/usr/bin/python3", "prefix": "",
                    "suffix": "\n[The command completed with exit code 0.]"}  # fmt: skip
        observation = observation_body("TerminalObservation", output, command=command, exit_code=0, timeout=False,
                                       metadata=metadata, full_output_save_dir="/workspace/.observations")  # fmt: skip
        action: dict[str, object] = {"command": command, "is_input": False, "reset": False, "kind": "TerminalAction"}
        return _tool("terminal", action, observation, "Let me look at the files.")
    if name in ("edit", "write", "read"):
        path = f"/workspace/app_{rng.randint(0, 999):03d}.py"
        if name == "edit":
            action = {"command": "str_replace", "path": path, "old_str": "x = 1", "new_str": "x = 2",
                      "kind": "FileEditorAction"}  # fmt: skip
            text = f"The file {path} has been edited."
        elif name == "write":
            action = {"command": "create", "path": path, "file_text": "print('hello')\n", "kind": "FileEditorAction"}
            text = f"File created successfully at: {path}"
        else:
            action = {"command": "view", "path": path, "kind": "FileEditorAction"}
            text = filler_text(rng, output_bytes)
        observation = observation_body("FileEditorObservation", text, command=action["command"], path=path)
        return _tool("file_editor", action, observation, f"I will {name} {path}.")
    if name == "think":
        action = {"thought": "Let me think about the request.", "kind": "ThinkAction"}
        return _tool("think", action, observation_body("ThinkObservation", "Your thought has been logged."), "Hmm.")
    if name == "message":
        return Step("message", text=f"I made the change you asked for ({content[:40]}). Anything else?")
    if name == "finish":
        message = "Hello from the loadtest reference agent."
        action = {"message": message, "kind": "FinishAction"}
        return _tool("finish", action, observation_body("FinishObservation", message), message)
    if name == "error":
        return Step("error", text=ERROR_DETAIL)
    raise ValueError(f"unknown agent step {name!r}")


def plan_steps(cfg: ServerConfig, content: str, rng: random.Random) -> list[Step]:
    """The steps one user message starts; `finish` and `error` end the list (as in V0's `plan_turn`)."""
    out: list[Step] = []
    for name in turn_steps(cfg.script, content, cfg.finish_keyword):
        out.append(step_for(name, content, rng, cfg.output_bytes))
        if name in ("finish", "error"):
            break
    return out


def chunks(text: str, count: int) -> list[str]:
    """`text` cut into `count` consecutive pieces (4 characters each on the real mock; never empty pieces)."""
    if count <= 0:
        return []
    text = text or "…"
    size = max(1, -(-len(text) // count))
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    while len(pieces) < count:
        pieces.append(" ")
    return pieces[:count]
