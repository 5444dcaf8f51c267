"""turns.TurnBook on plain data: what ends a turn, what counts as echo and first agent event."""

from __future__ import annotations

from typing import Any

from loadtest.openhands.events import classify
from loadtest.openhands.turns import TIMEOUT, Turn, TurnBook


def echo(eid: int, text: str) -> dict[str, Any]:
    return {"id": eid, "source": "user", "message": text, "action": "message", "args": {"content": text}}


def state(eid: int | None, s: str, source: str = "agent") -> dict[str, Any]:
    d: dict[str, Any] = {"source": source, "observation": "agent_state_changed", "extras": {"agent_state": s}}
    if eid is not None:
        d["id"] = eid
    return d


def action(eid: int, name: str, source: str = "agent") -> dict[str, Any]:
    return {"id": eid, "source": source, "action": name, "args": {}}


def feed(book: TurnBook, events: list[tuple[dict[str, Any], float]]) -> list[Turn]:
    ended = []
    for payload, at in events:
        t = book.observe(classify(payload), payload, 10, at)
        if t is not None:
            ended.append(t)
    return ended


def test_full_turn_like_the_reference_server() -> None:
    book = TurnBook()
    turn = Turn(sent_at=1.0, text="hi")
    book.start(turn)
    ended = feed(
        book,
        [
            (echo(10, "hi"), 1.010),
            (action(11, "recall", "user"), 1.020),
            (state(12, "running"), 1.030),
            (action(14, "run"), 1.040),
            ({"id": 15, "source": "agent", "observation": "run", "content": ""}, 1.050),
            (state(16, "awaiting_user_input"), 1.060),
        ],
    )
    assert ended == [turn]
    assert turn.end_state == "awaiting_user_input"
    assert turn.echo_ms is not None and abs(turn.echo_ms - 10.0) < 1e-6
    assert turn.first_event_ms is not None and abs(turn.first_event_ms - 40.0) < 1e-6
    assert turn.turn_ms is not None and abs(turn.turn_ms - 60.0) < 1e-6
    assert len(turn.gaps_ms) == 5 and all(abs(g - 10.0) < 1e-6 for g in turn.gaps_ms)
    assert (turn.events, turn.bytes) == (6, 60)
    assert len(book) == 0


def test_stale_idle_state_does_not_end_a_fresh_turn() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    assert feed(book, [(state(3, "awaiting_user_input", "environment"), 0.1)]) == []
    assert feed(book, [(echo(4, "x"), 0.2), (state(5, "finished"), 0.3)]) == [turn]
    assert turn.end_state == "finished"


def test_rate_limited_state_ends_without_echo() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    assert feed(book, [(state(7, "rate_limited"), 0.05)]) == [turn]
    assert turn.end_state == "rate_limited" and turn.echo_at is None


def test_error_event_before_start_ends_as_error() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    err = {"id": 7, "source": "agent", "observation": "error", "content": "Too many actions", "extras": {}}
    assert feed(book, [(err, 0.05)]) == [turn]
    assert turn.end_state == "error"
    book.start(t2 := Turn(sent_at=1.0, text="y"))
    assert feed(book, [({"error": True, "message": "Model does not support image upload"}, 1.1)]) == [t2]


def test_error_event_during_turn_does_not_end_it() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    err = {"id": 9, "source": "agent", "observation": "error", "content": "bad", "extras": {}}
    assert feed(book, [(echo(8, "x"), 0.1), (err, 0.2)]) == []
    assert feed(book, [(state(10, "error"), 0.3)]) == [turn]


def test_echo_matched_by_content_and_overlapping_turns() -> None:
    book = TurnBook()
    a, b = Turn(sent_at=0.0, text="a"), Turn(sent_at=0.5, text="b")
    book.start(a)
    book.start(b)
    feed(book, [(echo(1, "someone else"), 0.6), (echo(2, "a"), 0.7), (echo(3, "b"), 0.8)])
    assert (a.echo_at, b.echo_at) == (0.7, 0.8)
    assert feed(book, [(state(4, "running"), 0.9), (state(5, "awaiting_user_input"), 1.0)]) == [a]
    assert feed(book, [(state(6, "running"), 1.1), (state(7, "awaiting_user_input"), 1.2)]) == [b]


def test_status_and_idless_events_count_but_are_not_agent_work() -> None:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x")
    book.start(turn)
    status = {"status_update": True, "type": "info", "id": "STATUS$LLM_RETRY", "message": "1/5"}
    feed(book, [(echo(1, "x"), 0.1), (status, 0.2), (state(None, "running"), 0.3)])
    assert turn.first_agent_at is None and turn.events == 3
    feed(book, [(action(2, "think"), 0.4)])
    assert turn.first_agent_at == 0.4


def test_expire_and_abandon() -> None:
    book = TurnBook()
    a, b = Turn(sent_at=0.0, text="a"), Turn(sent_at=5.0, text="b")
    book.start(a)
    book.start(b)
    assert book.expire(10.0, 8.0) == [a]
    assert a.end_state == TIMEOUT and a.turn_ms is None
    assert book.abandon(b) and b.end_state == TIMEOUT
    assert not book.abandon(b)


def test_co_latencies() -> None:
    t = Turn(sent_at=2.0, intended_at=1.5, echo_at=2.1, first_agent_at=2.2, end_at=3.0)
    assert abs((t.echo_co_ms or 0) - 600.0) < 1e-6
    assert abs((t.first_event_co_ms or 0) - 700.0) < 1e-6
    assert abs((t.turn_co_ms or 0) - 1500.0) < 1e-6
    assert Turn(sent_at=1.0).echo_co_ms is None


def test_refusal_goes_to_the_unstarted_turn() -> None:
    # Turn a is running; b's action is refused by an action limiter: rate_limited arrives with no echo for b.
    book = TurnBook()
    a, b = Turn(sent_at=0.0, text="a"), Turn(sent_at=0.1, text="b")
    book.start(a)
    book.start(b)
    assert feed(book, [(echo(1, "a"), 0.05), (state(2, "running"), 0.06)]) == []
    assert feed(book, [(state(3, "rate_limited"), 0.12)]) == [b]
    assert b.end_state == "rate_limited" and b.echo_at is None
    assert feed(book, [(action(4, "run"), 0.2), (state(5, "awaiting_user_input"), 0.3)]) == [a]
    assert a.end_state == "awaiting_user_input"


def test_llm_rate_limit_ends_the_current_turn() -> None:
    book = TurnBook()
    a = Turn(sent_at=0.0, text="a")
    book.start(a)
    feed(book, [(echo(1, "a"), 0.05), (state(2, "running"), 0.06)])
    assert feed(book, [(state(3, "rate_limited"), 0.5)]) == [a]
    err = {"id": 4, "source": "agent", "observation": "error", "content": "x", "extras": {}}
    book.start(b := Turn(sent_at=1.0, text="b"))
    feed(book, [(echo(5, "b"), 1.01), (state(6, "running"), 1.02)])
    assert feed(book, [(err, 1.1)]) == []
    assert not b.done
