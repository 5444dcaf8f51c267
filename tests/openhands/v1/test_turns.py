"""V1 turn state machine: the captured turns (socket and stream vectors) and the edge cases as plain data."""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.openhands.v1.events import RUN_LIMIT, FrameType, V1Kind, classify, classify_frame, message_text
from loadtest.openhands.v1.turns import END_STATES, REJECTED, TIMEOUT, Turn, TurnBook, end_state_of

from .vectors import server_frames, timeline

_n = 0


def ev(kind: str, **fields: Any) -> dict[str, Any]:
    global _n
    _n += 1
    return {"id": f"id-{_n}", "timestamp": f"2026-12-07T19:00:00.{_n:06d}", "kind": kind, **fields}


def status(value: str) -> dict[str, Any]:
    return ev("ConversationStateUpdateEvent", source="environment", key="execution_status", value=value)


def full(value: str) -> dict[str, Any]:
    return ev("ConversationStateUpdateEvent", source="environment", key="full_state", value={"execution_status": value})


def user(text: str) -> dict[str, Any]:
    return ev("MessageEvent", source="user", llm_message={"role": "user", "content": [{"type": "text", "text": text}]})


def feed(book: TurnBook, frame: dict[str, Any], at: float) -> tuple[Turn, ...]:
    c = classify(frame)
    if c.kind is V1Kind.STREAMING_DELTA:
        book.observe_delta(at)
        return ()
    return book.observe(c, message_text(frame), 100, at)


def test_basic_turn_vector_two_turns() -> None:
    book = TurnBook()
    turns: list[Turn] = []
    ended: list[Turn] = []
    for t_ms, side, frame in timeline("events-basic-turn.jsonl"):
        at = t_ms / 1000.0
        if side == "client":
            turns.append(Turn(sent_at=at, text=frame["content"][0]["text"]))
            book.start(turns[-1])
            continue
        ended.extend(feed(book, frame, at))
    assert ended == turns and not book.inflight
    t1, t2 = turns
    assert (t1.echo_ms, t1.first_event_ms, t1.turn_ms, t1.end_state) == pytest.approx((17.4, 114.5, 122.8, "finished"))
    assert t1.events == 10 and len(t1.gaps_ms) == 9 and t1.error_code is None
    assert (t2.echo_ms, t2.first_event_ms, t2.turn_ms, t2.end_state) == pytest.approx((13.3, 58.7, 61.5, "finished"))
    assert t2.events == 9 and t2.ttft_ms is None and t2.token_gaps_ms == []


def test_the_snapshot_on_connect_ends_nothing() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="hi")
    book.start(turn)
    assert feed(book, full("idle"), 0.1) == ()
    assert feed(book, full("finished"), 0.2) == ()  # the run has not started for this turn
    assert turn.end_state is None


def test_finished_alone_is_not_the_end_and_a_mid_run_message_joins_the_run() -> None:
    book = TurnBook()
    a = Turn(sent_at=0.0, text="first")
    book.start(a)
    feed(book, user("first"), 0.01)
    feed(book, status("running"), 0.04)
    feed(book, ev("ActionEvent", source="agent"), 0.5)
    b = Turn(sent_at=0.6, text="second")
    book.start(b)
    feed(book, user("second"), 0.61)
    assert b.echo_at == 0.61
    assert feed(book, status("finished"), 3.12) == ()
    assert feed(book, status("running"), 3.12) == ()
    feed(book, ev("ActionEvent", source="agent"), 6.0)
    assert feed(book, full("finished"), 6.19) == (a, b)
    assert a.turn_ms == pytest.approx(6190.0) and b.turn_ms == pytest.approx(5590.0)
    assert b.first_event_ms == pytest.approx(5400.0)  # the first agent event after it joined


def test_error_run_ends_with_the_conversation_error_code() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    for i, frame in enumerate(
        [
            user("x"),
            status("running"),
            status("error"),
            ev("ConversationErrorEvent", source="environment", code="LLMServiceUnavailableError"),
        ]
    ):
        assert feed(book, frame, 0.01 * (i + 1)) == ()
    assert feed(book, full("error"), 0.19) == (turn,)
    assert (turn.end_state, turn.error_code) == ("error", "LLMServiceUnavailableError")
    assert turn.first_event_ms == pytest.approx(40.0)  # the error event is the first agent event


@pytest.mark.parametrize("state", ["stuck", "paused", "waiting_for_confirmation", "idle", "deleting"])
def test_each_end_state_is_counted(state: str) -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    feed(book, user("x"), 0.01)
    feed(book, status("running"), 0.02)
    assert feed(book, full(state), 0.3) == (turn,)
    assert turn.end_state == state and state in END_STATES


def test_unknown_status_is_bounded() -> None:
    assert end_state_of("exploded") == "unknown" and end_state_of(None) == "unknown"
    assert "running" not in END_STATES and TIMEOUT in END_STATES and REJECTED in END_STATES


def test_run_limit_waits_for_a_run_retry() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    feed(book, user("x"), 0.01)
    feed(book, ev("ServerErrorEvent", source="environment", code=RUN_LIMIT, detail="Message saved, but ..."), 0.36)
    assert turn.needs_run and turn.run_limited == 1 and turn.end_state is None
    assert book.needing_run() == [turn]
    feed(book, full("idle"), 0.5)  # it did not run: nothing ends
    assert turn.end_state is None
    book.run_retried(turn)
    assert book.needing_run() == []
    feed(book, status("running"), 2.0)
    assert feed(book, full("finished"), 2.5) == (turn,)
    assert turn.turn_ms == pytest.approx(2500.0) and turn.run_limited == 1


def test_any_run_after_the_refusal_takes_the_stored_message_in() -> None:
    # The `running` of the retried run may arrive before the answer to POST /run (or another client's message
    # started a run): the stored message is in that run either way.
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    feed(book, user("x"), 0.01)
    feed(book, ev("ServerErrorEvent", source="environment", code=RUN_LIMIT), 0.02)
    feed(book, status("running"), 0.5)
    assert not turn.needs_run and book.needing_run() == []
    assert feed(book, full("finished"), 0.9) == (turn,)


def test_a_refused_frame_is_rejected_with_its_code() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    ended = feed(book, ev("ServerErrorEvent", source="environment", code="ValidationError"), 0.01)
    assert ended == (turn,) and (turn.end_state, turn.error_code) == (REJECTED, "ValidationError")


def test_stream_vector_ttft_and_token_gaps() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.740, text="please list files")  # the message was sent about 14 ms before its echo
    book.start(turn)
    for t_ms, frame in server_frames("stream-turn-events.jsonl")[1:]:
        feed(book, frame, t_ms / 1000.0)
    assert turn.end_state == "finished" and turn.deltas == 12
    assert turn.ttft_ms == pytest.approx(1129.2 - 740.0)
    # 5 gaps in each burst of 6; the 462 ms tool wait between the bursts is no token gap
    assert len(turn.token_gaps_ms) == 10 and max(turn.token_gaps_ms) < 5.0
    assert turn.events == 13  # the 25 frames after the snapshot, deltas left out


def test_stream_session_vector_by_item_id() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.730, text="please list files")
    book.start(turn)
    for t_ms, frame in server_frames("stream-turn-session.jsonl")[2:]:
        e = classify_frame(frame)
        at = t_ms / 1000.0
        if e.type is FrameType.DELTA:
            book.observe_delta(at, e.item_id)
        elif e.type in (FrameType.DURABLE, FrameType.TRANSIENT):
            book.observe(classify(e.event), message_text(e.event), 100, at)
    assert turn.end_state == "finished" and turn.ttft_ms == pytest.approx(1119.0 - 730.0)
    assert len(turn.token_gaps_ms) == 10


def test_settle_after_a_replay_ends_the_run_that_ended_meanwhile() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    feed(book, user("x"), 0.01)  # echoed, then the socket dropped before `running`
    assert book.settle("running", 1.0) == ()
    assert book.settle("finished", 1.2) == (turn,)
    assert turn.end_state == "finished" and turn.turn_ms == pytest.approx(1200.0)


def test_settle_uses_the_status_timestamp_against_the_echo() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    echo = user("x")
    feed(book, echo, 0.01)  # its `running` and `finished` were replayed, not applied
    older = "2026-12-07T18:00:00"  # a status stamped before the message was stored says nothing of its run
    assert book.settle("finished", 1.0, older) == () and turn.end_state is None
    assert book.settle("finished", 1.1, echo["timestamp"] + "1") == (turn,)
    assert turn.end_state == "finished"


def test_expire_and_abandon() -> None:
    book = TurnBook()
    old, new = Turn(sent_at=0.0, text="a"), Turn(sent_at=5.0, text="b")
    book.start(old)
    book.start(new)
    assert book.expire(10.0, 8.0) == [old] and old.end_state == TIMEOUT
    assert book.abandon(new) and not book.abandon(new) and new.end_state == TIMEOUT


def test_another_clients_run_does_not_end_a_turn_not_yet_stored() -> None:
    book = TurnBook()
    theirs = Turn(sent_at=0.0, text="theirs")
    book.start(theirs)
    feed(book, user("theirs"), 0.01)
    mine = Turn(sent_at=0.02, text="mine")
    book.start(mine)
    feed(book, status("running"), 0.03)  # their run starts before our message is stored
    assert feed(book, full("finished"), 0.5) == (theirs,)
    assert mine.end_state is None
    feed(book, user("mine"), 0.51)
    feed(book, status("running"), 0.52)
    assert feed(book, full("finished"), 0.9) == (mine,)


def test_echo_of_another_clients_message_is_not_ours() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="mine")
    book.start(turn)
    feed(book, user("theirs"), 0.01)
    assert turn.echo_at is None
    feed(book, user("mine"), 0.02)
    assert turn.echo_at == 0.02
