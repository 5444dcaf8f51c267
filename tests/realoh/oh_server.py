"""What the real-OpenHands tests share: the running server's addresses and OpenHands' replay rule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

BASH_COMMAND = "echo hello from the mock LLM"
MOCK_LLM_ARGS = "--bash"
"""Each turn: the mock asks for `execute_bash` (the harmless `echo` above), then for `finish`."""


@dataclass
class Server:
    url: str
    llm_url: str
    """The mock LLM's base URL (without `/v1`)."""
    run_dir: Path
    up_seconds: float
    venv_python: Path

    def llm_stats(self) -> dict[str, Any]:
        return requests.get(f"{self.llm_url}/stats", timeout=5).json()  # type: ignore[no-any-return]

    def stored_events(self, cid: str) -> list[dict[str, Any]]:
        resp = requests.get(f"{self.url}/api/conversations/{cid}/events", params={"limit": 100}, timeout=10)
        resp.raise_for_status()
        body = resp.json()
        assert body["has_more"] is False
        return body["events"]  # type: ignore[no-any-return]


def expected_replay(stored: list[dict[str, Any]], latest: int) -> list[int]:
    """OpenHands' replay rule: ids > latest, without null/recall actions and null observations, and of the
    agent_state_changed observations only the last one, sent last."""
    kept: list[int] = []
    last_state: int | None = None
    for e in stored:
        if e["id"] <= latest or e.get("action") in ("null", "recall") or e.get("observation") == "null":
            continue
        if e.get("observation") == "agent_state_changed":
            last_state = e["id"]
        else:
            kept.append(e["id"])
    return kept + ([last_state] if last_state is not None else [])
