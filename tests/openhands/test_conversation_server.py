"""Conversation against the reference server: latencies vs injected delays, exact replay, faulty replay.

The server runs in a subprocess (tests/support/procs.py); everything is loopback on port 0.
"""

from __future__ import annotations

from loadtest.openhands import Conversation, ConversationConfig, EventKind, RestClient
from tests.openhands.recorder import Recorder
from tests.openhands.support import expected_replay, p50, stored_events, wait_until
from tests.support.procs import ReferenceServer

ECHO_MS = 20.0
EVENT_MS = 10.0


def test_latencies_agree_with_injected_delays() -> None:
    """Echo, first agent event, turn and inter-event gaps agree with the server's injected delays at p50.

    The server's timing contract (loadtest/server/agent.py): the echo goes out --echo-delay-ms after the
    action arrives; then each live-visible event follows the previous one by exactly --event-delay-ms. A later
    turn of script run,edit,write,message is: echo, recall, running, [null: not sent], run, run output, edit,
    edit output, write, write output, message, awaiting_user_input. The first agent event is `run` (3 event
    delays after the echo); the turn ends 10 event delays after the echo.

    Each latency is held to its own injected delay within 2 ms at p50: echo_ms to --echo-delay-ms, and
    first_event_ms / turn_ms to the echo plus 3 / 10 event delays (so the echo's own error is not counted
    twice). What remains is loopback transit and the server's asyncio timer granularity (wake-ups are rounded
    up to the next millisecond); our stamps are taken as each frame is read.
    """
    opts = ("--echo-delay-ms", str(ECHO_MS), "--event-delay-ms", str(EVENT_MS), "--script", "run,edit,write,message",
            "--no-tool-metadata", "--output-bytes", "100")  # fmt: skip
    with ReferenceServer(*opts, "--max-conversations", "0", "--no-http-limit") as srv:
        rec = Recorder()
        conv = Conversation(ConversationConfig(srv.url), listener=rec)
        conv.connect()
        warm = conv.send_message("warm-up turn", timeout=30)  # the first turn also carries a recall observation
        assert warm.end_state == "awaiting_user_input"
        turns = [conv.send_message(f"turn {i}", timeout=30) for i in range(30)]
        conv.close()
    assert all(t.end_state == "awaiting_user_input" for t in turns)
    assert all(t.events == 11 and len(t.gaps_ms) == 10 for t in turns)
    echo = [t.echo_ms or 0.0 for t in turns]
    first = [t.first_event_ms or 0.0 for t in turns]
    whole = [t.turn_ms or 0.0 for t in turns]
    errors = {
        "echo": p50([e - ECHO_MS for e in echo]),
        "first_event": p50([f - e - 3 * EVENT_MS for f, e in zip(first, echo, strict=True)]),
        "turn": p50([w - e - 10 * EVENT_MS for w, e in zip(whole, echo, strict=True)]),
        "event_gap": p50([g - EVENT_MS for t in turns for g in t.gaps_ms]),
    }
    from_send = {
        "first_event": p50([f - ECHO_MS - 3 * EVENT_MS for f in first]),
        "turn": p50([w - ECHO_MS - 10 * EVENT_MS for w in whole]),
    }
    print("p50 error vs injected delays (ms):", {k: round(v, 3) for k, v in errors.items()})
    print("p50 error from send vs echo + n event delays (ms):", {k: round(v, 3) for k, v in from_send.items()})
    for name, err in errors.items():
        assert abs(err) <= 2.0, f"{name} p50 is {err:.3f} ms off the injected delay"
    assert all(t.echo_at is not None and t.first_agent_at is not None and t.end_at is not None for t in turns)
    assert rec.turns[-1] is turns[-1]


def _history(srv: ReferenceServer, turns: int) -> tuple[str, list[dict[str, object]]]:
    """A conversation with some turns behind it, at rest; returns its id and its stored events."""
    conv = Conversation(ConversationConfig(srv.url))
    conv.connect()
    for i in range(turns):
        assert conv.send_message(f"history {i}", timeout=30).end_state == "awaiting_user_input"
    conv.close()
    assert conv.conversation_id is not None
    return conv.conversation_id, stored_events(RestClient(srv.url), conv.conversation_id)


def test_replay_from_every_midpoint_is_exact() -> None:
    with ReferenceServer("--event-delay-ms", "1", "--max-conversations", "0", "--no-http-limit") as srv:
        cid, stored = _history(srv, 2)
        top = stored[-1]["id"]
        assert isinstance(top, int) and top > 20
        cfg = ConversationConfig(srv.url, audit_rate=200.0)  # --no-http-limit: audit at will
        for latest in range(-1, top + 1):
            want = expected_replay(stored, latest)
            rec = Recorder()
            conv = Conversation(cfg, cid, listener=rec, latest_event_id=latest)
            cr = conv.connect()
            assert conv.settle(10)
            integ = conv.integrity
            assert cr.replayed_events == len(want), latest
            assert integ.events == len(want)
            assert conv.max_id == top
            assert (integ.gaps, integ.duplicates, integ.out_of_order) == (0, 0, 0), (latest, integ)
            assert integ.holes_expected == top - latest - len(want), (latest, integ)
            if want:
                assert rec.kinds[-1] is EventKind.AGENT_STATE  # the newest state event comes last
            assert not rec.integrity
            conv.close()


def test_faulty_replay_counts_equal_injected_faults() -> None:
    opts = ("--replay-skip-every", "3", "--replay-repeat-every", "4", "--event-delay-ms", "1")
    with ReferenceServer(*opts, "--max-conversations", "0", "--no-http-limit") as srv:
        rest = RestClient(srv.url)
        res = rest.create_conversation()
        cid = res.body["conversation_id"]
        # Join once the start-up events are stored, so every replay ends on a state event.
        assert wait_until(lambda: stored_events(rest, cid)[-1].get("observation") == "agent_state_changed")
        convs: list[Conversation] = []
        recs: list[Recorder] = []

        def join(latest: int) -> Conversation:
            rec = Recorder()
            conv = Conversation(
                ConversationConfig(srv.url, audit_rate=200.0), cid, listener=rec, latest_event_id=latest
            )
            conv.connect()
            convs.append(conv)
            recs.append(rec)
            return conv

        first = join(-1)
        for i in range(3):
            assert first.send_message(f"faulty {i}", timeout=30).end_state == "awaiting_user_input"
        top = first.max_id
        for latest in (-1, 0, 3, 7, 12, 20, top // 2, top - 5, top - 1):
            join(latest)
        assert all(c.settle(10) for c in convs)
        metrics = srv.metrics()
        skipped = metrics['loadtest_faults_total{kind="replay_skip"}']
        repeated = metrics['loadtest_faults_total{kind="replay_repeat"}']
        for c in convs:
            c.close()
    gaps = sum(c.integrity.gaps for c in convs)
    dups = sum(c.integrity.duplicates for c in convs)
    print(f"injected: {skipped:.0f} skipped, {repeated:.0f} repeated; counted: {gaps} gaps, {dups} duplicates")
    assert skipped > 10 and repeated > 10
    assert gaps == skipped
    assert dups == repeated
    assert sum(c.integrity.out_of_order for c in convs) == 0
    assert sum(c.integrity.unaudited for c in convs) == 0
    assert sum(r.integrity["gap"] for r in recs) == gaps
    assert sum(r.integrity["duplicate"] for r in recs) == dups
