"""Classify OpenHands V1 events (by ``kind``) and session-socket envelopes (by ``type``). Pure and cheap.

V1 events (``../shared/openhands-v1.md`` §4) are JSON objects with ``id`` (UUID string), ``timestamp`` (ISO 8601
without zone, the server's local time), ``source`` (``user``/``agent``/``environment``) and ``kind``:

- ``MessageEvent``: a user or agent message (told apart by ``source``);
- ``ActionEvent`` / ``ObservationEvent``: agent work;
- ``ConversationStateUpdateEvent``: ``key`` ``execution_status`` (``value`` a status string), ``full_state``
  (``value`` the whole state; its ``execution_status`` is read), ``last_user_message_id``, ``stats``, others;
- ``SystemPromptEvent``; ``ConversationErrorEvent`` and ``ServerErrorEvent`` (both with ``code``);
- ``StreamingDeltaEvent`` (a streamed token chunk; never stored);
- any other ``kind`` is ``OTHER`` (it keeps its id: stored events of kinds we do not know still count);
  a value that is not a dict or has no string ``kind`` is ``UNKNOWN``.

The session socket (§5) wraps events in envelopes: ``sync``, ``durable`` (``seq`` + ``event``),
``transient`` (``event``), ``item_started``, ``delta``, ``item_aborted``, ``error``.

Nothing here raises on hostile input: wrong types become None, unknown shapes `UNKNOWN`.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

__all__ = [
    "EXECUTION_STATUSES",
    "NOT_STORED",
    "RUN_LIMIT",
    "Classified",
    "Envelope",
    "FrameType",
    "V1Kind",
    "classified",
    "classify",
    "classify_frame",
    "message_text",
]

#: ``ServerErrorEvent.code`` (and the REST 429 detail) when the server's concurrent-run cap is full.
RUN_LIMIT = "ConversationRunLimitExceeded"

#: Execution statuses of the 1.58.2 enum; any other string is reported as ``unknown`` (bounded counters).
EXECUTION_STATUSES: frozenset[str] = frozenset(
    {"idle", "running", "paused", "waiting_for_confirmation", "finished", "error", "stuck", "deleting"}
)


class V1Kind(enum.Enum):
    """What a V1 event is. `.value` is a stable snake_case name for counters."""

    USER_MESSAGE = "user_message"
    AGENT_MESSAGE = "agent_message"
    ACTION = "action"
    OBSERVATION = "observation"
    EXECUTION_STATUS = "execution_status"
    FULL_STATE = "full_state"
    LAST_USER_MESSAGE = "last_user_message"
    STATS = "stats"
    OTHER_STATE = "other_state"
    SYSTEM_PROMPT = "system_prompt"
    CONVERSATION_ERROR = "conversation_error"
    SERVER_ERROR = "server_error"
    STREAMING_DELTA = "streaming_delta"
    OTHER = "other"
    UNKNOWN = "unknown"

    # Members are singletons compared by identity: hash them by identity too (C, not `Enum.__hash__` in Python;
    # the per-event path looks kinds up in sets and dicts).
    __hash__ = object.__hash__


#: Kinds the server never stores (so never replays, and REST never lists): not tracked for gaps.
#: ``full_state`` is a fresh snapshot each time (new id), the others are socket-only.
NOT_STORED: frozenset[V1Kind] = frozenset(
    {V1Kind.FULL_STATE, V1Kind.SERVER_ERROR, V1Kind.STREAMING_DELTA, V1Kind.UNKNOWN}
)

_STATE_KEYS: dict[str, V1Kind] = {
    "execution_status": V1Kind.EXECUTION_STATUS,
    "full_state": V1Kind.FULL_STATE,
    "last_user_message_id": V1Kind.LAST_USER_MESSAGE,
    "stats": V1Kind.STATS,
}

_SIMPLE: dict[str, V1Kind] = {
    "ActionEvent": V1Kind.ACTION,
    "ObservationEvent": V1Kind.OBSERVATION,
    "SystemPromptEvent": V1Kind.SYSTEM_PROMPT,
    "StreamingDeltaEvent": V1Kind.STREAMING_DELTA,
}

#: Whether each kind is stored (not in `NOT_STORED`), looked up once per event instead of a set test.
_STORED: dict[V1Kind, bool] = {k: k not in NOT_STORED for k in V1Kind}
#: `_SIMPLE` with each kind's `_STORED`: one lookup classifies the plain kinds.
_SIMPLE_STORED: dict[str, tuple[V1Kind, bool]] = {name: (k, _STORED[k]) for name, k in _SIMPLE.items()}


class Classified(NamedTuple):
    """The result of `classify`.

    Attributes:
        kind: the `V1Kind`.
        id: the event id (a non-empty string), or None.
        timestamp: the server's own timestamp string, unchanged (used as the resume point), or None.
        source: ``user``/``agent``/``environment`` as sent (a string), or None.
        status: the execution status for ``EXECUTION_STATUS`` and ``FULL_STATE`` (a string), else None.
        code: ``code`` of ``CONVERSATION_ERROR`` and ``SERVER_ERROR`` (a string), else None.
        stored: whether the server stores events of this kind (they are replayed and listed over REST): not
            in `NOT_STORED`. `classify` sets it from the kind; build one with `classified` to keep it so.
    """

    kind: V1Kind
    id: str | None
    timestamp: str | None
    source: str | None
    status: str | None = None
    code: str | None = None
    stored: bool = True


def classified(
    kind: V1Kind,
    eid: str | None,
    ts: str | None,
    source: str | None,
    status: str | None = None,
    code: str | None = None,
) -> Classified:
    """A `Classified` with `stored` derived from `kind`."""
    return Classified(kind, eid, ts, source, status, code, _STORED[kind])


_UNKNOWN = classified(V1Kind.UNKNOWN, None, None, None)
_new = tuple.__new__  # builds a `Classified` in C (its generated ``__new__`` is a Python function)


def _str(value: Any) -> str | None:
    return value if type(value) is str and value else None


def classify(event: Any) -> Classified:
    """Classify one decoded V1 event (a dict); anything else is ``UNKNOWN``.

    The per-event path of the client: the checks are inlined (no helper calls for the common kinds).
    """
    if type(event) is not dict:
        return _UNKNOWN
    get = event.get
    kind_name = get("kind")
    if type(kind_name) is not str:
        return _UNKNOWN
    eid = get("id")
    if type(eid) is not str or not eid:
        eid = None
    ts = get("timestamp")
    if type(ts) is not str or not ts:
        ts = None
    source = get("source")
    if type(source) is not str or not source:
        source = None
    simple = _SIMPLE_STORED.get(kind_name)
    if simple is not None:
        return _new(Classified, (simple[0], eid, ts, source, None, None, simple[1]))
    if kind_name == "ConversationStateUpdateEvent":
        key = get("key")
        kind = _STATE_KEYS.get(key, V1Kind.OTHER_STATE) if type(key) is str else V1Kind.OTHER_STATE
        status: Any = None
        if kind is V1Kind.EXECUTION_STATUS:
            status = get("value")
        elif kind is V1Kind.FULL_STATE:
            value = get("value")
            status = value.get("execution_status") if type(value) is dict else None
        if type(status) is not str or not status:
            status = None
        return _new(Classified, (kind, eid, ts, source, status, None, _STORED[kind]))
    if kind_name == "MessageEvent":
        kind = V1Kind.USER_MESSAGE if source == "user" else V1Kind.AGENT_MESSAGE
        return _new(Classified, (kind, eid, ts, source, None, None, _STORED[kind]))
    if kind_name == "ConversationErrorEvent":
        return classified(V1Kind.CONVERSATION_ERROR, eid, ts, source, None, _str(get("code")))
    if kind_name == "ServerErrorEvent":
        return classified(V1Kind.SERVER_ERROR, eid, ts, source, None, _str(get("code")))
    return classified(V1Kind.OTHER, eid, ts, source)


def message_text(event: Any) -> str | None:
    """The text of a ``MessageEvent`` (its ``llm_message.content`` text parts joined), or None."""
    if type(event) is not dict:
        return None
    msg = event.get("llm_message")
    content = msg.get("content") if type(msg) is dict else None
    if type(content) is not list:
        return None
    parts = [p.get("text") for p in content if type(p) is dict and p.get("type") == "text"]
    texts = [t for t in parts if type(t) is str]
    return "".join(texts) if texts else None


class FrameType(enum.Enum):
    """The ``type`` of a session-socket envelope."""

    SYNC = "sync"
    DURABLE = "durable"
    TRANSIENT = "transient"
    ITEM_STARTED = "item_started"
    DELTA = "delta"
    ITEM_ABORTED = "item_aborted"
    ERROR = "error"
    UNKNOWN = "unknown"


_FRAME_TYPES: dict[str, FrameType] = {t.value: t for t in FrameType if t is not FrameType.UNKNOWN}


class Envelope(NamedTuple):
    """A classified session-socket frame.

    Attributes:
        type: the `FrameType`.
        seq: ``seq`` of a ``durable`` frame (a non-negative int), else None.
        event: the wrapped event of ``durable``/``transient`` (as sent: classify it with `classify`), else None.
        from_seq, through_seq: of ``sync`` (ints; ``from_seq`` may be -1), else None.
        item_id: of ``item_started``/``delta``/``item_aborted`` (a string), else None.
        order: ``order`` of a ``delta`` (a non-negative int), else None.
        code: ``code`` of an ``error`` frame, ``reason`` of ``item_aborted`` (a string), else None.
    """

    type: FrameType
    seq: int | None = None
    event: Any = None
    from_seq: int | None = None
    through_seq: int | None = None
    item_id: str | None = None
    order: int | None = None
    code: str | None = None


_UNKNOWN_FRAME = Envelope(FrameType.UNKNOWN)


def _int(value: Any, low: int = 0) -> int | None:
    # bool is an int subclass; a real seq is a plain int.
    return value if type(value) is int and value >= low else None


def classify_frame(frame: Any) -> Envelope:
    """Classify one decoded session-socket frame; anything unrecognised is ``UNKNOWN``."""
    if type(frame) is not dict:
        return _UNKNOWN_FRAME
    name = frame.get("type")
    ftype = _FRAME_TYPES.get(name, FrameType.UNKNOWN) if type(name) is str else FrameType.UNKNOWN
    if ftype is FrameType.DURABLE:
        return Envelope(ftype, seq=_int(frame.get("seq")), event=frame.get("event"))
    if ftype is FrameType.TRANSIENT:
        return Envelope(ftype, event=frame.get("event"))
    if ftype is FrameType.SYNC:
        return Envelope(ftype, from_seq=_int(frame.get("from_seq"), -1), through_seq=_int(frame.get("through_seq"), -1))
    if ftype is FrameType.DELTA:
        return Envelope(ftype, item_id=_str(frame.get("item_id")), order=_int(frame.get("order")))
    if ftype is FrameType.ITEM_STARTED:
        return Envelope(ftype, item_id=_str(frame.get("item_id")))
    if ftype is FrameType.ITEM_ABORTED:
        return Envelope(ftype, item_id=_str(frame.get("item_id")), code=_str(frame.get("reason")))
    if ftype is FrameType.ERROR:
        return Envelope(ftype, code=_str(frame.get("code")))
    return _UNKNOWN_FRAME
