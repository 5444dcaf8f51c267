"""Classify `oh_event` payloads (protocol doc §5) into an `EventKind`.

Pure and cheap: one `isinstance`, a few dict lookups, no regex. This runs once per received event.

Shapes handled:

- stored events: ``{"id", "timestamp", "source", "message", "action", "args"}`` (actions) or
  ``{"id", ..., "observation", "content", "extras"}`` (observations);
- ``agent_state_changed`` observations, state read from ``extras.agent_state`` (or a top-level
  ``agent_state`` in compacted copies), including the id-less ``stopped`` copy sent on session close;
- status updates ``{"status_update": true, "type": "info"|"error", "id": "STATUS$..."}``;
- title updates ``{"status_update": true, "type": "info", "message": <cid>, "conversation_title": ...}``
  (and the id-less info pings a real server sends when conversation metadata changes);
- session errors ``{"error": true, "message": ...}``;
- anything else (not a dict, no recognisable key) is ``UNKNOWN``.

Id-less events keep their own kind; `Classified.id` is None for them, so integrity tracking skips them.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

__all__ = [
    "END_STATES",
    "Classified",
    "EventKind",
    "classify",
]


class EventKind(enum.Enum):
    """What an `oh_event` payload is. `.value` is a stable snake_case name for counters."""

    USER_MESSAGE = "user_message"
    AGENT_MESSAGE = "agent_message"
    RUN = "run"
    RUN_OUTPUT = "run_output"
    EDIT = "edit"
    EDIT_OUTPUT = "edit_output"
    WRITE = "write"
    WRITE_OUTPUT = "write_output"
    READ = "read"
    READ_OUTPUT = "read_output"
    THINK = "think"
    FINISH = "finish"
    RECALL = "recall"
    RECALL_OUTPUT = "recall_output"
    AGENT_STATE = "agent_state"
    ERROR_OBSERVATION = "error_observation"
    NULL = "null"
    OTHER_ACTION = "other_action"
    OTHER_OBSERVATION = "other_observation"
    STATUS_INFO = "status_info"
    STATUS_ERROR = "status_error"
    TITLE_UPDATE = "title_update"
    SESSION_ERROR = "session_error"
    UNKNOWN = "unknown"


class Classified(NamedTuple):
    """The result of `classify`.

    Attributes:
        kind: the `EventKind`.
        id: the numeric event id, or None for id-less payloads (status, title, session error, id-less events).
        source: ``"agent" | "user" | "environment"`` for stored events, else None.
        state: the agent state for ``AGENT_STATE``, else None.
        status_id: the status id (``"STATUS$READY"``, ``"AGENT_ERROR$TOO_MANY_CONVERSATIONS"``...) for status
            updates, else None.
    """

    kind: EventKind
    id: int | None
    source: str | None
    state: str | None = None
    status_id: str | None = None


#: Agent states that end a turn.
END_STATES: frozenset[str] = frozenset(
    {"awaiting_user_input", "finished", "error", "rate_limited", "stopped", "rejected", "paused"}
)

_ACTIONS: dict[str, EventKind] = {
    "run": EventKind.RUN,
    "edit": EventKind.EDIT,
    "write": EventKind.WRITE,
    "read": EventKind.READ,
    "think": EventKind.THINK,
    "finish": EventKind.FINISH,
    "recall": EventKind.RECALL,
    "null": EventKind.NULL,
}

_OBSERVATIONS: dict[str, EventKind] = {
    "run": EventKind.RUN_OUTPUT,
    "edit": EventKind.EDIT_OUTPUT,
    "write": EventKind.WRITE_OUTPUT,
    "read": EventKind.READ_OUTPUT,
    "recall": EventKind.RECALL_OUTPUT,
    "error": EventKind.ERROR_OBSERVATION,
    "null": EventKind.NULL,
    "agent_state_changed": EventKind.AGENT_STATE,
}

_UNKNOWN = Classified(EventKind.UNKNOWN, None, None)
_SESSION_ERROR = Classified(EventKind.SESSION_ERROR, None, None)


def _event_id(payload: dict[str, Any]) -> int | None:
    eid = payload.get("id")
    # bool is an int subclass; a real id is a plain non-negative int.
    if type(eid) is int and eid >= 0:
        return eid
    return None


def _classify_status(payload: dict[str, Any]) -> Classified:
    status_id = payload.get("id")
    if not isinstance(status_id, str):
        status_id = None
    if payload.get("type") == "error":
        return Classified(EventKind.STATUS_ERROR, None, None, None, status_id)
    if "conversation_title" in payload or status_id is None:
        return Classified(EventKind.TITLE_UPDATE, None, None, None, status_id)
    return Classified(EventKind.STATUS_INFO, None, None, None, status_id)


def classify(payload: Any) -> Classified:
    """Classify one `oh_event` payload (the first argument of the event).

    Args:
        payload: the decoded JSON value; anything that is not a dict is ``UNKNOWN``.
    """
    if type(payload) is not dict:
        return _UNKNOWN
    action = payload.get("action")
    if action is not None:
        source = payload.get("source")
        if action == "message":
            kind = EventKind.USER_MESSAGE if source == "user" else EventKind.AGENT_MESSAGE
        else:  # a non-string action (a list from a broken server) is unhashable: OTHER, never a crash
            kind = _ACTIONS.get(action, EventKind.OTHER_ACTION) if type(action) is str else EventKind.OTHER_ACTION
        return Classified(kind, _event_id(payload), source)
    observation = payload.get("observation")
    if observation is not None:
        kind = (
            _OBSERVATIONS.get(observation, EventKind.OTHER_OBSERVATION)
            if type(observation) is str
            else EventKind.OTHER_OBSERVATION
        )
        if kind is EventKind.AGENT_STATE:
            extras = payload.get("extras")
            state = extras.get("agent_state") if type(extras) is dict else None
            if state is None:
                state = payload.get("agent_state")
            if not isinstance(state, str):
                state = None
            return Classified(kind, _event_id(payload), payload.get("source"), state)
        return Classified(kind, _event_id(payload), payload.get("source"))
    if payload.get("status_update") is True:
        return _classify_status(payload)
    if payload.get("error") is True:
        return _SESSION_ERROR
    return _UNKNOWN
