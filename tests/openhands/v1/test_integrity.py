"""V1 integrity: UUIDs on the events socket (overlap, duplicates, interleaving, gaps, memory bound) and seqs
on the session socket (V0's integer tracker)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loadtest.openhands.v1.events import FrameType, V1Kind, classify, classify_frame
from loadtest.openhands.v1.integrity import (
    DUPLICATE,
    FEED,
    HOLD,
    LATE,
    NEW,
    OUT_OF_ORDER,
    OVERLAP,
    RESET,
    STALE,
    ReplayWatch,
    SeqIntegrity,
    UuidIntegrity,
)
from loadtest.openhands.v1.resume import events_query
from loadtest.openhands.v1.turns import Turn, TurnBook

from .vectors import DATA, interleaved, meta, server_frames


def run_events(ui: UuidIntegrity, watch: ReplayWatch, frames: list[tuple[float, Any]]) -> list[tuple[int, str]]:
    """Feed frames as a conversation would; returns (observe result, route) per stored frame."""
    out: list[tuple[int, str]] = []
    for t_ms, frame in frames:
        c = classify(frame)
        route = watch.observe(c, t_ms / 1000.0)
        if c.stored and c.id is not None:
            out.append((ui.observe(c.id, c.timestamp), route))
    return out


def test_since_resume_counts_the_boundary_as_overlap() -> None:
    name = "events-resume-since.jsonl"
    frames = server_frames(name)
    first = frames[1][1]  # the event stamped exactly T: the last one the previous socket delivered
    ui = UuidIntegrity()
    ui.observe("older-event", "2026-12-07T19:19:53.900000")
    ui.observe(first["id"], first["timestamp"])
    query = events_query("since", ui.newest_ts)
    assert query == {k: v[0] for k, v in parse_qs(urlsplit(meta(name)["url"]).query).items()}
    ui.expect_resume("since")
    watch = ReplayWatch(0.0, resend=True)
    results = run_events(ui, watch, frames)
    assert [r for r, _ in results] == [OVERLAP] + [NEW] * 24
    assert (ui.overlap, ui.duplicates, watch.replayed, watch.interleaved) == (1, 0, 25, 0)
    assert watch.snapshot_at == 0.0
    ui.expect_resume("since")  # a second resume: the new boundary is the newest event
    assert ui.observe(frames[-1][1]["id"], frames[-1][1]["timestamp"]) == OVERLAP
    assert ui.observe(first["id"], first["timestamp"]) == DUPLICATE  # the old boundary is no overlap any more


def test_interleaved_a_live_before_the_snapshot_and_two_duplicates() -> None:
    name = "events-resume-all-interleaved-a.jsonl"
    ui = UuidIntegrity()
    ui.expect_resume("all")
    watch = ReplayWatch(0.0, resend=True)
    results = run_events(ui, watch, interleaved(name))
    m = meta(name)
    assert len(results) == m["frames"] - 2  # the snapshot and the final full_state are not stored
    assert ui.duplicates == m["duplicate_ids"] == 2 and ui.kept == m["unique_ids"] - 2
    assert watch.interleaved == 2  # the two live frames delivered before the snapshot
    assert watch.end_replay() == "finished"


def _replay_b(frames: list[tuple[float, Any]], book: TurnBook) -> tuple[UuidIntegrity, ReplayWatch, list[str]]:
    ui = UuidIntegrity()
    ui.expect_resume("all")
    watch = ReplayWatch(0.0, resend=True)
    routes: list[str] = []
    for t_ms, frame in frames:
        c = classify(frame)
        at = t_ms / 1000.0
        route = watch.observe(c, at)
        routes.append(route)
        if c.kind is V1Kind.FULL_STATE and route == HOLD:
            assert not watch.quiet(at, 0.01)  # replayed frames still arrive
        if route == FEED:
            book.observe(c, None, 100, at)
        if c.stored and c.id is not None:
            ui.observe(c.id, c.timestamp)
    return ui, watch, routes


def _running_turn() -> tuple[TurnBook, Turn]:
    book = TurnBook()
    turn = Turn(sent_at=0.0, text="x", echo_at=0.0, started=True)  # in the run before this socket opened
    book.start(turn)
    book.running = True
    return book, turn


def test_interleaved_b_the_snapshot_shows_the_run_already_over() -> None:
    # As captured: the run's stored `finished` (18.338195) precedes the snapshot (18.359394, "finished"), so the
    # snapshot ends the turn; the late live end-of-run full_state (n=101) is held, not applied twice.
    book, turn = _running_turn()
    ui, watch, routes = _replay_b(interleaved("events-resume-all-interleaved-b.jsonl"), book)
    assert turn.end_state == "finished" and turn.end_at == 0.0
    assert routes[101] == HOLD and (ui.duplicates, watch.interleaved, watch.replayed) == (0, 1, 225)


def test_interleaved_b_holds_the_live_end_of_run_full_state() -> None:
    # The same frames with the snapshot taken while the run still ran (as in the 10 ms and 60 ms reconnects of
    # the doc): the live end-of-run full_state mid-replay must not end the turn; the quiet replay does.
    frames = interleaved("events-resume-all-interleaved-b.jsonl")
    snap = dict(frames[0][1], value={"execution_status": "running"})
    frames[0] = (frames[0][0], snap)
    book, turn = _running_turn()
    _ui, watch, routes = _replay_b(frames, book)
    assert routes[101] == HOLD and frames[101][1]["key"] == "full_state"
    assert turn.end_state is None  # not ended mid-replay
    last = frames[-1][0] / 1000.0
    assert not watch.quiet(last + 0.005, 0.02) and watch.quiet(last + 0.025, 0.02)
    assert book.settle(watch.end_replay(), last + 0.025) == (turn,)
    assert turn.end_state == "finished" and turn.end_at == last + 0.025


def test_live_status_updates_go_through_during_a_replay() -> None:
    watch = ReplayWatch(0.0, resend=True)

    def state(key: str, ts: str, value: Any) -> Any:
        return classify({"id": ts, "timestamp": ts, "kind": "ConversationStateUpdateEvent", "key": key, "value": value})

    assert watch.observe(state("full_state", "2026-12-07T19:00:05", {"execution_status": "idle"}), 0.0) == FEED
    assert watch.observe(state("execution_status", "2026-12-07T19:00:01", "running"), 0.001) == HOLD  # replayed
    assert watch.observe(state("execution_status", "2026-12-07T19:00:06", "running"), 0.002) == FEED  # live
    assert watch.observe(state("full_state", "2026-12-07T19:00:07", {"execution_status": "finished"}), 0.003) == HOLD
    assert (watch.status, watch.status_ts) == ("finished", "2026-12-07T19:00:07")


def test_missing_snapshot_and_no_resend() -> None:
    watch = ReplayWatch(1.0, resend=False)
    assert not watch.missing_snapshot(1.5, 1.0) and watch.missing_snapshot(2.0, 1.0)
    assert not watch.quiet(5.0, 0.01)
    snap = {
        "id": "s",
        "timestamp": "2026-12-07T19:00:00",
        "kind": "ConversationStateUpdateEvent",
        "key": "full_state",
        "value": {"execution_status": "idle"},
    }
    assert watch.observe(classify(snap), 2.1) == FEED
    assert watch.quiet(2.1, 0.5) and not watch.missing_snapshot(9.0, 1.0) and watch.status == "idle"


def _search_items() -> list[dict[str, Any]]:
    with open(DATA / "rest-events-search.json", encoding="utf-8") as f:
        items: list[dict[str, Any]] = json.load(f)["response"]["body"]["items"]
    return items


def test_gaps_from_the_rest_listing_and_late_arrivals() -> None:
    items = _search_items()
    ui = UuidIntegrity()
    first = items[0]
    ui.observe(first["id"], first["timestamp"])
    assert ui.missing(items, through=first["timestamp"]) == []  # the later ones may still be on their way
    missing = ui.missing(items)
    assert [m[0] for m in missing] == [items[1]["id"], items[2]["id"]]
    assert ui.count_gaps(missing) == 2 and ui.gaps == 2
    assert ui.missing(items) == []  # counted once
    assert ui.observe(items[1]["id"], items[1]["timestamp"]) == LATE and ui.late == 1
    assert ui.count_gaps(missing) == 0  # one arrived, one already counted


def test_not_stored_kinds_are_never_gaps() -> None:
    ui = UuidIntegrity()
    listing = [
        {"id": "d", "timestamp": "t1", "kind": "StreamingDeltaEvent"},
        {"id": "e", "timestamp": "t1", "kind": "ServerErrorEvent"},
        {"id": "f", "timestamp": "t1", "kind": "ConversationStateUpdateEvent", "key": "full_state"},
        "junk",
        {"kind": "ActionEvent"},
    ]
    assert ui.missing(listing) == []


def test_fill_records_rest_deliveries_apart() -> None:
    ui = UuidIntegrity()
    assert ui.fill([("a", "2026-12-07T19:00:01"), ("b", "2026-12-07T19:00:02")]) == 2
    assert (ui.filled, ui.gaps, ui.newest_ts) == (2, 0, "2026-12-07T19:00:02")
    assert ui.observe("b", "2026-12-07T19:00:02") == DUPLICATE


def test_prune_bounds_memory_and_keeps_exact_duplicates() -> None:
    ui = UuidIntegrity()
    for i in range(1000):
        ui.observe(f"e{i}", f"2026-12-07T19:00:{i // 100:02d}.{i:06d}")
    floor = "2026-12-07T19:00:09"
    assert ui.prune(floor) == 900 and ui.kept == 100
    assert ui.observe("e5", "2026-12-07T19:00:00.000005") == DUPLICATE  # below an audited floor: seen
    assert ui.observe("new", "2026-12-07T19:00:09.999999") == NEW
    assert ui.prune("2099-01-01") == 100 and ui.kept == 1  # clamped to the resume point: its id stays
    assert ui.floor == ui.newest_ts == "2026-12-07T19:00:09.999999"
    ui.expect_resume("since")
    assert ui.observe("new", "2026-12-07T19:00:09.999999") == OVERLAP


def test_overflow_without_audit_stays_bounded_and_counts_stale() -> None:
    ui = UuidIntegrity(max_ids=1000)
    for i in range(20_000):
        assert ui.observe(f"e{i}", f"2026-12-07T19:{i // 6000:02d}:{(i // 100) % 60:02d}.{i:06d}") == NEW
        assert ui.kept <= 1000
    assert ui.overflows > 0
    assert ui.observe("e0", "2026-12-07T19:00:00.000000") == STALE and ui.stale == 1
    assert ui.duplicates == 0


def test_hostile_equal_timestamps_stay_bounded() -> None:
    ui = UuidIntegrity(max_ids=100)
    for i in range(5000):
        ui.observe(f"e{i}", "2026-12-07T19:00:00")
        assert ui.kept <= 100
    ui2 = UuidIntegrity(max_ids=100)
    for i in range(5000):
        ui2.observe(f"e{i}", None)  # no timestamps at all
        assert ui2.kept <= 100


def test_resend_all_starts_a_new_window() -> None:
    ui = UuidIntegrity()
    ui.observe("a", "t1")
    ui.expect_resume("all")
    assert ui.observe("a", "t1") == NEW and ui.duplicates == 0
    assert ui.observe("a", "t1") == DUPLICATE


def test_session_resume_after_seq_vector() -> None:
    si = SeqIntegrity()
    si.ids.max_id = 46
    results = []
    for _t, frame in server_frames("session-resume-after-seq.jsonl"):
        e = classify_frame(frame)
        if e.type is FrameType.SYNC:
            si.on_sync(e.through_seq)
        elif e.type is FrameType.DURABLE and e.seq is not None:
            results.append(si.observe(e.seq))
        elif e.type is FrameType.TRANSIENT:
            assert si.replay_done and si.on_snapshot() == 0
    assert results == [NEW, NEW] and si.after_seq == 48 and si.settle() == 0


def test_session_live_vector_is_clean() -> None:
    si = SeqIntegrity()
    for _t, frame in server_frames("session-socket-run.jsonl"):
        e = classify_frame(frame)
        if e.type is FrameType.SYNC:
            si.on_sync(e.through_seq)
        elif e.type is FrameType.DURABLE and e.seq is not None:
            assert si.observe(e.seq) == NEW
    assert si.after_seq == 11 and si.settle() == 0 and si.ids.duplicates == 0


def test_live_only_session_skips_the_history_without_gaps() -> None:
    si = SeqIntegrity()
    si.on_sync(48, live_only=True)
    assert si.observe(49) == NEW and si.settle() == 0 and si.after_seq == 49


def test_seq_faults_are_counted_exactly() -> None:
    si = SeqIntegrity()
    si.on_sync(9)
    for s in (0, 1, 2, 4, 5, 5, 3, 7, 8, 9):  # 6 skipped, 5 repeated, 3 late
        si.observe(s)
    assert (si.ids.duplicates, si.ids.out_of_order) == (1, 1)
    assert si.settle() == 1 and si.ids.gaps == 1  # seq 6
    si.on_sync(14)  # reconnect after_seq=9: 10..14 due
    si.observe(10)
    si.observe(11)
    assert si.on_snapshot() == 3 and si.tail_gaps == 3 and si.ids.gaps == 4  # 12..14 never came
    assert si.observe(13) == OUT_OF_ORDER  # late tail
    assert si.observe(13) == DUPLICATE
    assert si.observe(15) == NEW and si.settle() == 0
    si.on_sync(20)
    assert si.observe(3) == RESET  # the server's log restarted below our position
