"""V1 event and envelope classification: plain shapes, the captured vectors, and hostile input."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.openhands.v1.events import (
    RUN_LIMIT,
    FrameType,
    V1Kind,
    classify,
    classify_frame,
    message_text,
)

from .vectors import server_frames, timeline


def test_kinds_of_plain_events() -> None:
    base = {"id": "e1", "timestamp": "2026-12-07T19:19:37.047619"}
    assert classify({**base, "source": "user", "kind": "MessageEvent"}).kind is V1Kind.USER_MESSAGE
    assert classify({**base, "source": "agent", "kind": "MessageEvent"}).kind is V1Kind.AGENT_MESSAGE
    assert classify({**base, "kind": "ActionEvent"}).kind is V1Kind.ACTION
    assert classify({**base, "kind": "ObservationEvent"}).kind is V1Kind.OBSERVATION
    assert classify({**base, "kind": "SystemPromptEvent"}).kind is V1Kind.SYSTEM_PROMPT
    assert classify({**base, "kind": "StreamingDeltaEvent", "content": "Hell"}).kind is V1Kind.STREAMING_DELTA
    assert classify({**base, "kind": "PauseEvent"}).kind is V1Kind.OTHER
    c = classify({**base, "kind": "ConversationStateUpdateEvent", "key": "execution_status", "value": "running"})
    assert (c.kind, c.status, c.id, c.timestamp) == (V1Kind.EXECUTION_STATUS, "running", "e1", base["timestamp"])
    c = classify(
        {**base, "kind": "ConversationStateUpdateEvent", "key": "full_state", "value": {"execution_status": "stuck"}}
    )
    assert (c.kind, c.status, c.stored) == (V1Kind.FULL_STATE, "stuck", False)
    assert classify({**base, "kind": "ConversationStateUpdateEvent", "key": "last_user_message_id"}).kind is (
        V1Kind.LAST_USER_MESSAGE
    )
    assert classify({**base, "kind": "ConversationStateUpdateEvent", "key": "stats"}).kind is V1Kind.STATS
    assert classify({**base, "kind": "ConversationStateUpdateEvent", "key": "title"}).kind is V1Kind.OTHER_STATE
    c = classify({**base, "kind": "ConversationErrorEvent", "code": "LLMServiceUnavailableError"})
    assert (c.kind, c.code, c.stored) == (V1Kind.CONVERSATION_ERROR, "LLMServiceUnavailableError", True)
    c = classify({**base, "kind": "ServerErrorEvent", "code": RUN_LIMIT})
    assert (c.kind, c.code, c.stored) == (V1Kind.SERVER_ERROR, RUN_LIMIT, False)
    c = classify({**base, "kind": "ServerErrorEvent", "code": "ValidationError"})
    assert c.code == "ValidationError"


def test_missing_and_wrong_fields_become_none() -> None:
    assert classify(None).kind is V1Kind.UNKNOWN
    assert classify([1]).kind is V1Kind.UNKNOWN
    assert classify({"id": "x"}).kind is V1Kind.UNKNOWN
    assert classify({"kind": ["MessageEvent"]}).kind is V1Kind.UNKNOWN
    c = classify({"kind": "ConversationStateUpdateEvent", "key": "full_state", "value": "finished", "id": 7})
    assert (c.kind, c.status, c.id, c.timestamp) == (V1Kind.FULL_STATE, None, None, None)
    c = classify({"kind": "ConversationStateUpdateEvent", "key": {"a": 1}, "value": None})
    assert c.kind is V1Kind.OTHER_STATE
    c = classify({"kind": "ServerErrorEvent", "code": 42, "id": "", "timestamp": 3})
    assert (c.code, c.id, c.timestamp) == (None, None, None)
    assert classify({"kind": "MessageEvent", "source": None}).kind is V1Kind.AGENT_MESSAGE


def test_message_text() -> None:
    ev = {"kind": "MessageEvent", "llm_message": {"role": "user", "content": [{"type": "text", "text": "hi"}]}}
    assert message_text(ev) == "hi"
    assert message_text({"llm_message": {"content": [{"type": "image"}, "x", {"type": "text", "text": 5}]}}) is None
    assert message_text({"llm_message": "no"}) is None
    assert message_text(None) is None


def test_basic_turn_vector_kinds_and_user_text() -> None:
    kinds = Counter()
    texts: list[str | None] = []
    for _t, side, frame in timeline("events-basic-turn.jsonl"):
        if side == "client":
            texts.append(frame["content"][0]["text"])
            continue
        c = classify(frame)
        kinds[c.kind] += 1
        assert c.id is not None and c.timestamp is not None and c.source is not None
        if c.kind is V1Kind.USER_MESSAGE:
            assert message_text(frame) == texts[-1]  # the echo carries the sent text
    assert kinds == Counter(
        {
            V1Kind.FULL_STATE: 3,
            V1Kind.SYSTEM_PROMPT: 1,
            V1Kind.USER_MESSAGE: 2,
            V1Kind.LAST_USER_MESSAGE: 2,
            V1Kind.STATS: 3,
            V1Kind.EXECUTION_STATUS: 5,
            V1Kind.ACTION: 2,
            V1Kind.OBSERVATION: 2,
        }
    )
    statuses = [classify(f).status for _t, f in server_frames("events-basic-turn.jsonl") if classify(f).status]
    assert statuses == ["idle", "running", "finished", "finished", "idle", "running", "finished", "finished"]


def test_stream_vector_deltas_are_not_stored() -> None:
    deltas = [classify(f) for _t, f in server_frames("stream-turn-events.jsonl")]
    stream = [c for c in deltas if c.kind is V1Kind.STREAMING_DELTA]
    assert len(stream) == 12 and not any(c.stored for c in stream)
    assert len({c.id for c in stream}) == 12


def test_session_envelopes_from_vectors() -> None:
    frames = [classify_frame(f) for _t, f in server_frames("session-socket-run.jsonl")]
    types = [e.type for e in frames]
    assert types[0] is FrameType.SYNC and frames[0].through_seq is None
    assert types[1] is FrameType.TRANSIENT and classify(frames[1].event).kind is V1Kind.FULL_STATE
    assert [e.seq for e in frames if e.type is FrameType.DURABLE] == list(range(12))
    assert types[-1] is FrameType.TRANSIENT and classify(frames[-1].event).status == "finished"
    resume = [classify_frame(f) for _t, f in server_frames("session-resume-after-seq.jsonl")]
    assert (resume[0].from_seq, resume[0].through_seq) == (46, 48)
    stream = [classify_frame(f) for _t, f in server_frames("stream-turn-session.jsonl")]
    started = [e for e in stream if e.type is FrameType.ITEM_STARTED]
    deltas = [e for e in stream if e.type is FrameType.DELTA]
    assert len(started) == 2 and len(deltas) == 12
    assert [d.order for d in deltas] == list(range(6)) * 2
    durable_ids = {classify(e.event).id for e in stream if e.type is FrameType.DURABLE}
    assert {s.item_id for s in started} <= durable_ids  # item_id = the ActionEvent it becomes


def test_envelope_plain_and_hostile() -> None:
    assert classify_frame({"type": "sync", "from_seq": -1, "through_seq": 48}).from_seq == -1
    assert classify_frame({"type": "sync", "from_seq": -2, "through_seq": True}).through_seq is None
    e = classify_frame({"type": "item_aborted", "item_id": "i", "attempt": 1, "reason": "cancelled"})
    assert (e.type, e.item_id, e.code) == (FrameType.ITEM_ABORTED, "i", "cancelled")
    assert classify_frame({"type": "error", "code": "slow_consumer"}).code == "slow_consumer"
    assert classify_frame({"type": "durable", "seq": -1, "event": {}}).seq is None
    assert classify_frame({"type": ["sync"]}).type is FrameType.UNKNOWN
    assert classify_frame({"type": "nope"}).type is FrameType.UNKNOWN
    assert classify_frame("sync").type is FrameType.UNKNOWN


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "id",
        "timestamp",
        "source",
        "kind",
        "key",
        "value",
        "code",
        "type",
        "seq",
        "event",
        "from_seq",
        "through_seq",
        "item_id",
        "order",
        "reason",
        "llm_message",
    ]
)
_kinds = st.sampled_from(
    [
        "MessageEvent",
        "ConversationStateUpdateEvent",
        "ServerErrorEvent",
        "ConversationErrorEvent",
        "StreamingDeltaEvent",
        "sync",
        "durable",
        "delta",
        "error",
    ]
)
_hostile = st.dictionaries(_keys, _json | _kinds, max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_json, _hostile))
def test_never_raises_on_hostile_input(value: Any) -> None:
    c = classify(value)
    assert c.id is None or isinstance(c.id, str)
    assert c.status is None or isinstance(c.status, str)
    assert c.code is None or isinstance(c.code, str)
    e = classify_frame(value)
    assert e.seq is None or (type(e.seq) is int and e.seq >= 0)
    t = message_text(value)
    assert t is None or isinstance(t, str)
    json.dumps(c._asdict(), default=str)
