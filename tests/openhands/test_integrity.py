"""integrity.Integrity and audit_holes on plain data."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.openhands.integrity import (
    DUPLICATE,
    NEW,
    OUT_OF_ORDER,
    PHASE_LIVE,
    PHASE_REPLAY,
    Integrity,
    audit_holes,
)


def feed(ids: list[int]) -> Integrity:
    t = Integrity()
    for i in ids:
        t.observe(i)
    return t


def reference_counts(ids: list[int]) -> tuple[int, int, set[int]]:
    """Naive truth: (duplicates, out_of_order, holes) computed with a full set of seen ids."""
    seen: set[int] = set()
    mx = -1
    dups = ooo = 0
    for i in ids:
        if i in seen:
            dups += 1
        elif i < mx:
            ooo += 1
        seen.add(i)
        mx = max(mx, i)
    return dups, ooo, set(range(mx + 1)) - seen


def test_in_order_stream() -> None:
    t = feed(list(range(10)))
    assert (t.max_id, t.duplicates, t.out_of_order, t.open_holes) == (9, 0, 0, 0)


def test_hole_then_late_arrival_is_out_of_order() -> None:
    t = Integrity()
    assert t.observe(0) == NEW
    assert t.observe(3) == NEW
    assert t.open_holes == 2
    assert t.observe(1) == OUT_OF_ORDER
    assert t.observe(3) == DUPLICATE
    assert t.observe(1) == DUPLICATE
    assert (t.duplicates, t.out_of_order, t.open_holes) == (2, 1, 1)


def test_replay_trailing_state_event_is_quiet() -> None:
    # Replay of ids 0..9 where 3 and 6 are state events: 6 (newest state) comes last.
    t = Integrity()
    for i in (0, 1, 2, 4, 5, 7, 8, 9):
        t.observe(i)
    assert t.observe(6, quiet=True) == NEW
    assert (t.out_of_order, t.duplicates) == (0, 0)
    assert t.take_holes() == [3]


def test_take_and_resolve() -> None:
    t = feed([0, 5])
    assert t.take_holes() == [1, 2, 3, 4]
    assert t.open_holes == 0 and t.pending_holes == 4
    # 2 arrives while pending: late, not a duplicate, and not resolved afterwards.
    assert t.observe(2) == OUT_OF_ORDER
    assert t.resolve(expected=[1], gaps=[2, 3, 4]) == (2, 1)
    assert (t.gaps, t.holes_expected, t.pending_holes) == (2, 1, 0)
    # A resolved gap arriving later is out of order too.
    assert t.observe(3) == OUT_OF_ORDER
    assert t.observe(3) == DUPLICATE


def test_hole_cap_overflow_counts_as_gaps() -> None:
    t = Integrity(hole_cap=10)
    t.observe(0)
    t.observe(100)
    assert t.open_holes == 10
    assert t.overflow == 89
    assert t.take_overflow() == 89
    assert t.gaps == 89 and t.overflow == 0


def test_memory_is_holes_only() -> None:
    t = feed(list(range(100_000)))
    assert t.open_holes == 0 and t.max_id == 99_999


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=200).flatmap(
        lambda n: st.tuples(
            st.permutations(list(range(n))),
            st.lists(st.integers(min_value=0, max_value=n - 1), max_size=40),
            st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
            st.sets(st.integers(min_value=0, max_value=n - 1), max_size=n // 2),
        )
    )
)
def test_counts_match_truth(case: tuple[list[int], list[int], list[int], set[int]]) -> None:
    perm, dup_ids, positions, dropped = case
    stream = [i for i in perm if i not in dropped]
    for dup, pos in zip(dup_ids, positions, strict=False):
        stream.insert(pos % (len(stream) + 1), dup)
    t = feed(stream)
    dups, ooo, holes = reference_counts(stream)
    assert t.duplicates == dups
    assert t.out_of_order == ooo
    assert t.max_id == max(stream, default=-1)
    assert set(t.take_holes()) == holes
    assert t.duplicates + t.out_of_order + len(set(stream)) - ooo == len(stream)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), max_size=300))
def test_arbitrary_streams(stream: list[int]) -> None:
    t = feed(stream)
    dups, ooo, holes = reference_counts(stream)
    assert (t.duplicates, t.out_of_order) == (dups, ooo)
    assert set(t.take_holes()) == holes


# -- audit ---------------------------------------------------------------------------------------


def ev(
    eid: int, source: str, *, action: str | None = None, observation: str | None = None, **kw: Any
) -> dict[str, Any]:
    d: dict[str, Any] = {"id": eid, "source": source}
    if action:
        d["action"] = action
        d["args"] = {}
    if observation:
        d["observation"] = observation
        d["content"] = ""
        d["extras"] = kw
    return d


# The real-server session in openhands-real.md: ids 0..9.
STORED = [
    ev(0, "environment", observation="agent_state_changed", agent_state="loading"),
    ev(1, "agent", action="system"),
    ev(2, "environment", action="change_agent_state"),
    ev(3, "environment", observation="agent_state_changed", agent_state="awaiting_user_input"),
    ev(4, "user", action="message"),
    ev(5, "user", action="recall"),
    ev(6, "environment", observation="agent_state_changed", agent_state="running"),
    ev(7, "environment", observation="recall"),
    ev(8, "agent", action="finish"),
    ev(9, "environment", observation="agent_state_changed", agent_state="finished"),
]


def test_audit_real_replay_from_start() -> None:
    # latest_event_id=-1 replayed 1, 2, 4, 7, 8, 9 (9 = newest state, last).
    t = Integrity()
    for i in (1, 2, 4, 7, 8):
        t.observe(i)
    t.observe(9, quiet=True)
    holes = t.take_holes()
    assert holes == [0, 3, 5, 6]
    expected, gaps = audit_holes(holes, STORED, PHASE_REPLAY, state_seen=True)
    assert expected == {0, 3, 5, 6} and gaps == set()
    assert t.resolve(expected, gaps) == (0, 4)


def test_audit_replay_skip_is_a_gap() -> None:
    expected, gaps = audit_holes([3, 4, 8], STORED, PHASE_REPLAY, state_seen=True)
    assert expected == {3}
    assert gaps == {4, 8}


def test_audit_replay_lost_newest_state() -> None:
    # The replay delivered no state event: the newest one among the holes was due.
    expected, gaps = audit_holes([0, 3, 6, 9], STORED, PHASE_REPLAY, state_seen=False)
    assert expected == {0, 3, 6}
    assert gaps == {9}


def test_audit_live_rules() -> None:
    # Live: state events and recall actions are sent, env actions are not, null events never.
    stored = [*STORED, ev(10, "agent", observation="null"), ev(11, "environment", observation="browse")]
    expected, gaps = audit_holes([2, 5, 6, 7, 10, 11], stored, PHASE_LIVE)
    assert expected == {2, 10, 11}
    assert gaps == {5, 6, 7}


def test_audit_unknown_id_is_gap() -> None:
    expected, gaps = audit_holes([42], STORED, PHASE_REPLAY)
    assert (expected, gaps) == (set(), {42})
