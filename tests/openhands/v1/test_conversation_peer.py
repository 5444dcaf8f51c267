"""`V1Conversation` over real loopback sockets against tests/peers/v1_peer.py (an independent scripted V1 server)."""

from __future__ import annotations

import pytest

from loadtest.openhands.v1.conversation import V1Conversation, V1Refused
from loadtest.openhands.v1.resume import Strategy
from loadtest.ws import ConnectTimeout, HandshakeRejected

from .peer import KEY, Recorder, V1Peer


@pytest.fixture(scope="module")
def peer() -> V1Peer:
    with V1Peer("--event-delay-ms", "20") as p:
        yield p


@pytest.mark.parametrize("key_via", ["first-frame", "header", "query"])
def test_create_connect_and_two_turns(peer: V1Peer, key_via: str) -> None:
    rec = Recorder()
    conv = V1Conversation(peer.config(key_via=key_via), listener=rec)
    cr = conv.connect()
    assert conv.conversation_id is not None and cr.duration_ms > 0
    try:
        for text in ("hello", "again"):
            turn = conv.send_message(text)
            assert turn.end_state == "finished", turn
            assert turn.echo_at is not None and turn.first_agent_at is not None and turn.end_at is not None
            assert turn.echo_at < turn.first_agent_at < turn.end_at
            # the peer sleeps 20 ms before `stats`, the action and the observation: 3 x 20 ms before the end
            assert turn.turn_ms is not None and turn.turn_ms >= 60.0
            assert turn.first_event_ms is not None and turn.first_event_ms >= 40.0
        assert [t.end_state for t in rec.turns] == ["finished", "finished"]
        assert sum(rec.integrity.values()) == 0 and not rec.signals
    finally:
        conv.close()


def test_send_via_rest(peer: V1Peer) -> None:
    conv = V1Conversation(peer.config(send_via="rest"))
    conv.connect()
    try:
        turn = conv.send_message("over rest")
        assert turn.end_state == "finished" and turn.echo_at is not None
    finally:
        conv.close()


def test_refusals_are_named(peer: V1Peer) -> None:
    good = V1Conversation(peer.config())
    good.connect()
    cid = good.conversation_id
    good.close()
    with pytest.raises(HandshakeRejected) as hs:
        V1Conversation(peer.config(session_api_key="wrong", key_via="header"), cid).connect()
    assert repr(hs.value) == "HandshakeRejected(status=403)"
    rec = Recorder()
    with pytest.raises(V1Refused) as first:
        V1Conversation(peer.config(session_api_key="wrong"), cid, listener=rec).connect()
    assert repr(first.value) == "V1Refused(4001)" and "session API key" in str(first.value)
    with pytest.raises(V1Refused) as unknown:
        V1Conversation(peer.config(), "00000000-0000-0000-0000-000000000000", listener=rec).connect()
    assert repr(unknown.value) == "V1Refused(4004)"
    assert rec.signals == {"auth_failed": 1, "unknown_conversation": 1}


def test_socket_cap_is_1013() -> None:
    with V1Peer("--socket-cap", "2") as p:
        first = V1Conversation(p.config())
        first.connect()
        others = [V1Conversation(p.config(), first.conversation_id) for _ in range(2)]
        others[0].connect()
        rec = Recorder()
        third = V1Conversation(p.config(), first.conversation_id, listener=rec)
        with pytest.raises(V1Refused) as info:
            third.connect()
        assert repr(info.value) == "V1Refused(1013)" and rec.signals == {"socket_cap": 1}
        for c in (first, others[0]):
            c.close()


def test_reconnect_since_counts_the_overlap_only(peer: V1Peer) -> None:
    rec = Recorder()
    conv = V1Conversation(peer.config(), listener=rec)
    conv.connect()
    try:
        conv.send_message("one")
        conv.drop()
        rr = conv.reconnect()
        assert rr.ok and rr.attempts == 1 and rec.disconnects == ["client_abort"]
        assert conv.frames.wait_quiet(5.0)
        assert rec.integrity["overlap"] == 1 and rec.integrity["duplicate"] == 0
        assert conv.send_message("two").end_state == "finished"
        assert conv.settle() == 0 and rec.integrity["gap"] == 0
    finally:
        conv.close()


@pytest.mark.parametrize("send_via", ["socket", "rest"])
def test_run_limit_retries_run_without_resending(send_via: str) -> None:
    with V1Peer("--refuse-runs", "1") as p:
        rec = Recorder()
        conv = V1Conversation(p.config(run_retry_initial=0.05, send_via=send_via), listener=rec)
        conv.connect()
        try:
            turn = conv.send_message("limited")
            assert turn.end_state == "finished" and turn.run_limited == 1 and not turn.needs_run
            assert rec.signals["run_limit"] == 1
            listing = conv.search({"limit": "100"}).body["items"]
            assert sum(1 for e in listing if e["kind"] == "MessageEvent") == 1  # the message was not resent
        finally:
            conv.close()


@pytest.mark.parametrize("strategy", [Strategy.FRONTEND, Strategy.SDK])
def test_alternative_strategies_reconnect(peer: V1Peer, strategy: Strategy) -> None:
    rec = Recorder()
    conv = V1Conversation(peer.config(strategy=strategy), listener=rec)
    conv.connect()
    try:
        conv.send_message("one")
        conv.drop()
        assert conv.reconnect().ok
        conv.frames.wait_quiet(5.0)
        assert conv.send_message("two").end_state == "finished"
        assert rec.integrity["duplicate"] == 0 and conv.settle() == 0
    finally:
        conv.close()


def test_faulty_resume_gaps_and_duplicates_equal_the_injected() -> None:
    with V1Peer("--replay-skip-every", "3", "--replay-repeat-every", "4") as p:
        seed = V1Conversation(p.config())
        seed.connect()
        seed.send_message("fill the history")
        seed.send_message("more history")
        stored = seed.search({"limit": "100"}).body["items"]
        seed.close()
        rec = Recorder()
        conv = V1Conversation(p.config(), seed.conversation_id, listener=rec)  # join: resend_mode=all
        conv.connect()
        assert conv.frames.wait_quiet(5.0)
        n = len(stored)
        skipped = n // 3
        repeated = sum(1 for i in range(1, n + 1) if i % 4 == 0 and i % 3 != 0)
        assert conv.settle() == skipped and rec.integrity["gap"] == skipped
        assert rec.integrity["duplicate"] == repeated
        conv.close()


def test_missing_initial_snapshot() -> None:
    with V1Peer("--no-snapshot") as p:
        rec = Recorder()
        conv = V1Conversation(p.config(connect_timeout=0.5), listener=rec)
        with pytest.raises(ConnectTimeout) as info:
            conv.connect()
        assert repr(info.value) == "ConnectTimeout('snapshot')" and rec.integrity == {"missing_snapshot": 1}
        assert not conv.connected


def test_session_replay_gaps_equal_the_injected() -> None:
    with V1Peer("--replay-skip-every", "4") as p:
        seed = V1Conversation(p.config())
        seed.connect()
        seed.send_message("history")
        seed.send_message("more history")
        n = len(seed.search({"limit": "100"}).body["items"])
        seed.close()
        rec = Recorder()
        conv = V1Conversation(p.config(socket="session"), seed.conversation_id, listener=rec)  # after_seq=-1
        conv.connect()
        assert conv.frames.wait_quiet(5.0)
        skipped = sum(1 for seq in range(n) if (seq + 1) % 4 == 0)
        tail = 1 if n % 4 == 0 else 0  # a skipped last seq is a tail gap, found at the snapshot
        assert rec.integrity["gap"] == skipped and conv.frames.seq.tail_gaps == tail
        assert conv.frames.seq.after_seq == n - 1
        conv.close()


def test_session_socket_turn_and_resume() -> None:
    with V1Peer("--event-delay-ms", "5") as p:
        rec = Recorder()
        conv = V1Conversation(p.config(socket="session"), listener=rec)
        conv.connect()
        try:
            assert conv.send_message("one").end_state == "finished"
            before = conv.frames.seq.after_seq
            conv.drop()
            assert conv.reconnect().ok
            assert conv.frames.seq.after_seq == before
            assert conv.send_message("two").end_state == "finished"
            assert conv.settle() == 0 and sum(rec.integrity.values()) == 0
        finally:
            conv.close()


def test_streaming_ttft_and_token_gaps() -> None:
    with V1Peer("--stream-deltas", "12", "--token-ms", "10") as p:
        for socket in ("events", "session"):
            conv = V1Conversation(p.config(socket=socket))
            conv.connect()
            try:
                turn = conv.send_message("stream")
                assert turn.end_state == "finished" and turn.deltas == 12
                assert turn.ttft_ms is not None and turn.ttft_ms >= 10.0  # the peer sleeps 10 ms before each delta
                gaps = sorted(turn.token_gaps_ms)
                # Receive stamps of a loaded machine may bunch a few deltas into one read (a 0 ms gap, then a
                # long one): the median stays at the injected 10 ms, and the span cannot be much shorter.
                assert len(gaps) == 11 and 8.0 <= gaps[5] <= 30.0 and sum(gaps) >= 100.0
            finally:
                conv.close()


def test_secrets_never_in_reprs_or_rest_results(peer: V1Peer) -> None:
    conv = V1Conversation(peer.config())
    conv.create()  # the peer echoes the agent settings, LLM key included
    assert conv.create_result is not None
    text = repr(conv) + repr(conv.cfg) + repr(conv.rest) + repr(conv.create_result)
    assert KEY not in text and "sk-test-secret" not in text
    assert conv.create_result.body["agent"]["llm"]["api_key"] == "<redacted>"
