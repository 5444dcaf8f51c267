"""Start tests/peers/v1_peer.py (a scripted V1 agent server, `websockets`) and build conversations against it."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from loadtest.openhands.v1.config import V1Config
from loadtest.openhands.v1.conversation import V1Conversation
from loadtest.openhands.v1.listener import V1Listener
from loadtest.openhands.v1.turns import Turn
from tests.support.procs import ROOT, PeerProcess

KEY = "test-session-key-v1"
SETTINGS: dict[str, Any] = {"agent": {"llm": {"model": "openai/mock-model", "api_key": "sk-test-secret"}, "tools": []}}


class V1Peer(PeerProcess):
    def __init__(self, *options: str) -> None:
        super().__init__([sys.executable, str(ROOT / "tests" / "peers" / "v1_peer.py"), "--key", KEY, *options])
        rest = next(line for line in self.lines if line.startswith("rest "))
        self.rest_port = int(rest.split()[1])

    def config(self, **kw: Any) -> V1Config:
        base: dict[str, Any] = {
            "base_url": f"http://127.0.0.1:{self.rest_port}",
            "socket_url": f"ws://127.0.0.1:{self.port}",
            "session_api_key": KEY,
            "agent_settings": SETTINGS,
            "working_dir": "/tmp",
            "connect_timeout": 5.0,
            "turn_timeout": 10.0,
            "replay_quiet": 0.05,
            "audit_rate": 100.0,
        }
        base.update(kw)
        return V1Config(**base)


class Recorder(V1Listener):
    def __init__(self) -> None:
        self.integrity: Counter[str] = Counter()
        self.signals: Counter[str] = Counter()
        self.turns: list[Turn] = []
        self.disconnects: list[str] = []

    def on_integrity(self, conv: V1Conversation, kind: str, count: int) -> None:
        self.integrity[kind] += count

    def on_signal(self, conv: V1Conversation, signal: str) -> None:
        self.signals[signal] += 1

    def on_turn(self, conv: V1Conversation, turn: Turn) -> None:
        self.turns.append(turn)

    def on_disconnect(self, conv: V1Conversation, reason: str) -> None:
        self.disconnects.append(reason)
