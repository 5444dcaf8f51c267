"""V1 conversations and their event logs, in memory. Pure data and selection rules; no sockets, no asyncio.

Each stored event is serialized once: `json` (what the events socket and REST send) and, on demand, its
session-socket `durable` envelope. `seq` is the 0-based, gapless log position.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from loadtest.server.store import dumps
from loadtest.server.v1.events import Event, full_stats
from loadtest.server.v1.inputs import CreateRequest


@dataclass(slots=True)
class StoredEvent:
    id: str
    timestamp: str
    kind: str
    source: str
    seq: int
    json: str
    _durable: str | None = None

    @property
    def is_state(self) -> bool:
        """V1 replays every stored event (nothing is withheld), so no event is exempt from replay faults."""
        return False

    @property
    def durable(self) -> str:
        """The session socket's `{"type":"durable","seq":N,"event":{…}}`, built once."""
        if self._durable is None:
            self._durable = f'{{"type":"durable","seq":{self.seq},"event":{self.json}}}'
        return self._durable


class EventLog:
    """Append-only; timestamps non-decreasing in practice, kept in a parallel list for `since` lookups."""

    def __init__(self) -> None:
        self.events: list[StoredEvent] = []
        self._stamps: list[str] = []

    def __len__(self) -> int:
        return len(self.events)

    def append(self, event: Event) -> StoredEvent:
        stored = StoredEvent(
            str(event["id"]), str(event["timestamp"]), str(event["kind"]), str(event.get("source", "")),
            len(self.events), dumps(event),
        )  # fmt: skip
        self.events.append(stored)
        self._stamps.append(stored.timestamp)
        return stored

    def since(self, stamp: str) -> list[StoredEvent]:
        """Stored events with timestamp >= `stamp` (inclusive, as the real server)."""
        return self.events[bisect.bisect_left(self._stamps, stamp) :]

    def after_seq(self, seq: int) -> list[StoredEvent]:
        return self.events[max(seq + 1, 0) :]

    def search(
        self,
        kind: str | None = None,
        source: str | None = None,
        gte: str | None = None,
        lt: str | None = None,
        descending: bool = False,
    ) -> list[StoredEvent]:
        """`…/events/search` filters: kind, source, timestamp__gte (inclusive), timestamp__lt (exclusive)."""
        start = bisect.bisect_left(self._stamps, gte) if gte is not None else 0
        end = bisect.bisect_left(self._stamps, lt) if lt is not None else len(self.events)
        chosen = [
            e
            for e in self.events[start:end]
            if (kind is None or e.kind == kind) and (source is None or e.source == source)
        ]
        return chosen[::-1] if descending else chosen


def page(items: list[StoredEvent], page_id: str | None, limit: int) -> tuple[list[StoredEvent], str | None]:
    """One page starting at the event `page_id` (the previous page's `next_page_id`), and the next page's id."""
    start = 0
    if page_id:
        ids = [e.id for e in items]
        start = ids.index(page_id) if page_id in ids else len(items)
    chosen = items[start : start + limit]
    nxt = items[start + limit].id if start + limit < len(items) else None
    return chosen, nxt


@dataclass
class Pending:
    """A stored user message not yet played by the agent."""

    text: str
    event_id: str


@dataclass
class Conversation:
    """One V1 conversation: settings from its create request, log, execution status, sockets."""

    id: str
    created_at: str
    request: CreateRequest
    log: EventLog = field(default_factory=EventLog)
    execution_status: str = "idle"
    title: str | None = None
    updated_at: str = ""
    last_user_message_id: str | None = None
    leaf_event_id: str | None = None
    llm_calls: int = 0
    live_events: int = 0  # agent events played (for --stall-after / --delay-every)
    stalled: bool = False
    turns: int = 0
    system_prompt_sent: bool = False
    pending: list[Pending] = field(default_factory=list)

    @property
    def persistence_dir(self) -> str:
        return "<conversations>/" + self.id.replace("-", "")

    def agent(self, masked: bool) -> dict[str, object]:
        llm = dict(self.request.llm)
        if "api_key" in llm:
            llm["api_key"] = "**********" if masked and llm["api_key"] is not None else None
        llm.setdefault("stream", self.request.stream)
        return {"llm": llm, "tools": list(self.request.tools), "mcp_config": {},
                "include_default_tools": ["FinishTool", "ThinkTool"], "kind": "Agent"}  # fmt: skip

    def full_state(self) -> dict[str, object]:
        """The `full_state` snapshot's value: grows with the LLM calls made (as the real one)."""
        value: dict[str, object] = {
            "id": self.id, "agent": self.agent(masked=True), "workspace": self.workspace(),
            "persistence_dir": self.persistence_dir, "max_iterations": 500, "stuck_detection": True,
            "execution_status": self.execution_status, "confirmation_policy": {"kind": "NeverConfirm"},
            "activated_knowledge_skills": [], "activated_path_rules": [], "invoked_skills": [],
            "blocked_actions": {}, "blocked_messages": {},
        }  # fmt: skip
        if self.last_user_message_id is not None:
            value["last_user_message_id"] = self.last_user_message_id
        if self.leaf_event_id is not None:
            value["leaf_event_id"] = self.leaf_event_id
        value.update({"head_is_empty": len(self.log) == 0, "stats": full_stats(self.llm_calls),
                      "secret_registry": {"secret_sources": {}}, "tags": {}, "agent_state": {}})  # fmt: skip
        return value

    def workspace(self) -> dict[str, object]:
        return {**self.request.workspace, "kind": "LocalWorkspace"}

    def info(self) -> dict[str, object]:
        """`ConversationInfo` as `POST/GET /api/conversations` returns it."""
        return {
            "id": self.id, "workspace": self.workspace(), "persistence_dir": self.persistence_dir,
            "max_iterations": 500, "stuck_detection": True, "execution_status": self.execution_status,
            "confirmation_policy": {"kind": "NeverConfirm"}, "security_analyzer": None,
            "activated_knowledge_skills": [], "invoked_skills": [], "blocked_actions": {}, "blocked_messages": {},
            "last_user_message_id": self.last_user_message_id, "leaf_event_id": self.leaf_event_id,
            "stats": full_stats(self.llm_calls), "secret_registry": {"secret_sources": {}}, "agent_state": {},
            "hook_config": None, "title": self.title, "metrics": None, "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at, "forked_from_conversation_id": None,
            "forked_from_event_id": None, "parent_conversation_id": None, "sub_conversation_ids": [], "tags": {},
            "current_model_id": None, "available_models": [], "supports_runtime_model_switch": False,
            "launched_agent_profile": None, "agent": self.agent(masked=False), "client_tools": [],
            "tool_module_qualnames": {}, "runtime_info": None,
        }  # fmt: skip
