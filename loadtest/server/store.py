"""Conversations and their event logs, in memory. Pure data and selection rules; no sockets, no asyncio.

Each stored event is serialized once when it is stored: `stored_json` (as persisted, for replay and REST) and
`live_json` (what the room gets live: environment sources rewritten to "agent", or None when OpenHands does
not send the event live).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from loadtest.server import events as ev


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    payload: ev.JsonObject
    stored_json: str
    live_json: str | None
    is_state: bool
    replayable: bool  # False for Null* and recall actions (OpenHands' replay filter)


def materialize(event_id: int, timestamp: str, draft: ev.Draft, cause_id: int | None) -> StoredEvent:
    """Give a draft its id and timestamp, in OpenHands' key order, and serialize it (once)."""
    payload: ev.JsonObject = {"id": event_id, "timestamp": timestamp, "source": draft.source, "message": draft.message}
    if cause_id is not None:
        payload["cause"] = cause_id
    payload.update(draft.body)
    stored_json = dumps(payload)
    live_json: str | None = None
    if ev.is_live_visible(draft.source, draft.body):
        rewrite = draft.source == ev.ENVIRONMENT
        live_json = dumps({**payload, "source": ev.AGENT}) if rewrite else stored_json
    is_state = draft.body.get("observation") == "agent_state_changed"
    replayable = not ev.is_null(draft.body) and draft.body.get("action") != "recall"
    return StoredEvent(event_id, payload, stored_json, live_json, is_state, replayable)


def now_timestamp() -> str:
    """OpenHands' `datetime.now().isoformat()`: server-local naive time with microseconds."""
    return datetime.now().isoformat()


class ConversationLog:
    """Dense ids from 0, append-only."""

    def __init__(self, clock: Callable[[], str] = now_timestamp) -> None:
        self.events: list[StoredEvent] = []
        self._clock = clock

    def __len__(self) -> int:
        return len(self.events)

    def append(self, draft: ev.Draft, cause_id: int | None = None) -> StoredEvent:
        stored = materialize(len(self.events), self._clock(), draft, cause_id)
        self.events.append(stored)
        return stored

    def page(self, start_id: int, end_id: int | None, reverse: bool, limit: int) -> tuple[list[StoredEvent], bool]:
        """`GET .../events` semantics: ids in [start_id, end_id] (end inclusive), at most `limit`, plus has_more."""
        last = len(self.events) - 1 if end_id is None else min(end_id, len(self.events) - 1)
        first = max(start_id, 0)
        if last < first:
            return [], False
        chosen = self.events[first : last + 1]
        if reverse:
            chosen = chosen[::-1]
        return chosen[:limit], len(chosen) > limit


def select_replay(log: list[StoredEvent], latest_event_id: int) -> list[StoredEvent]:
    """OpenHands' replay: ids > latest_event_id, Null*/recall skipped, state events withheld but the newest, last."""
    out: list[StoredEvent] = []
    newest_state: StoredEvent | None = None
    for stored in log[max(latest_event_id + 1, 0) :]:
        if not stored.replayable:
            continue
        if stored.is_state:
            newest_state = stored
            continue
        out.append(stored)
    if newest_state is not None:
        out.append(newest_state)
    return out


def parse_latest_event_id(values: Iterable[str]) -> int:
    """First value as int; missing or not an integer ("undefined") -> -1, as OpenHands does."""
    for value in values:
        try:
            return int(value)
        except ValueError:
            return -1
    return -1


@dataclass
class Conversation:
    """One conversation: metadata, its log, the sockets in its room, and the agent state."""

    conversation_id: str
    created_at: str
    log: ConversationLog = field(default_factory=ConversationLog)
    title: str = ""
    status: str = "STARTING"  # STARTING | RUNNING | STOPPED
    runtime_status: str | None = None
    agent_state: str = "loading"
    running: bool = False  # agent loop started and not stopped (counts toward --max-conversations)
    sids: set[str] = field(default_factory=set)
    last_updated: float = field(default_factory=time.monotonic)
    turns_started: int = 0
    llm_calls: int = 0
    live_events: int = 0  # agent-side events emitted live (for --stall-after / --delay-every)

    @property
    def room(self) -> str:
        return f"room:{self.conversation_id}"

    def info(self) -> ev.JsonObject:
        """`ConversationInfo` as OpenHands' REST API returns it."""
        return {
            "conversation_id": self.conversation_id,
            "title": self.title or f"Conversation {self.conversation_id[:5]}",
            "last_updated_at": self.created_at,
            "status": self.status,
            "runtime_status": self.runtime_status,
            "selected_repository": None,
            "selected_branch": None,
            "git_provider": None,
            "trigger": "gui",
            "num_connections": len(self.sids),
            "url": f"/api/conversations/{self.conversation_id}",
            "session_api_key": None,
            "created_at": self.created_at,
            "pr_number": [],
            "conversation_version": "V0",
            "sub_conversation_ids": [],
        }


class ConversationStore:
    """All conversations of the server, by id, with ids from a seeded generator (32 hex chars like uuid4().hex)."""

    def __init__(self, seed: int) -> None:
        self.conversations: dict[str, Conversation] = {}
        self._ids = random.Random(f"ids:{seed}")

    def new_id(self) -> str:
        while True:
            cid = f"{self._ids.getrandbits(128):032x}"
            if cid not in self.conversations:
                return cid

    def get(self, conversation_id: str) -> Conversation | None:
        return self.conversations.get(conversation_id)

    def create(self, conversation_id: str | None = None) -> Conversation:
        cid = conversation_id or self.new_id()
        conv = Conversation(cid, now_timestamp())
        self.conversations[cid] = conv
        return conv

    def delete(self, conversation_id: str) -> Conversation | None:
        return self.conversations.pop(conversation_id, None)

    def running(self) -> list[Conversation]:
        return [c for c in self.conversations.values() if c.running]
