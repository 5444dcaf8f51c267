"""Conversation reconnects against the reference server: server drops, our drop(), mid-turn, handshake 429."""

from __future__ import annotations

# isort: split

import gevent

import itertools
import json
import time
import urllib.request

import pytest

from loadtest.openhands import Conversation, ConversationConfig
from loadtest.sio.errors import HandshakeRejected
from tests.openhands.recorder import Recorder
from tests.openhands.support import wait_until
from tests.support.procs import ReferenceServer


@pytest.mark.parametrize(
    ("mode", "reasons"), [("clean", {"server"}), ("abrupt", {"transport_close", "transport_error"})]
)
def test_reconnect_after_server_drop(mode: str, reasons: set[str]) -> None:
    opts = ("--drop-every", "0.5", "--drop-share", "1", "--drop-mode", mode, "--event-delay-ms", "1")
    with ReferenceServer(*opts, "--max-conversations", "0", "--no-http-limit") as srv:
        rec = Recorder()
        conv = Conversation(ConversationConfig(srv.url), listener=rec)
        conv.connect()
        before = conv.max_id
        assert wait_until(lambda: not conv.connected, timeout=10)
        faults = srv.metrics()
        if mode == "abrupt" and not faults['loadtest_faults_total{kind="drop_abrupt"}']:
            pytest.xfail("the server fell back to a clean drop (notes/requests-openhands.md, request 2)")
        assert rec.disconnects and rec.disconnects[0] in reasons
        assert conv.last_disconnect_reason in reasons
        assert (rec.signals["server_disconnect"] == 1) == (mode == "clean")
        rr = conv.reconnect(max_attempts=5, deadline=10)
        assert rr.ok and rr.attempts == 1 and rr.error is None
        assert rr.recovery_ms is not None and 0 < rr.recovery_ms < 10_000
        assert rr.resync_ms == rr.recovery_ms  # no turn in flight: caught up at the CONNECT ack
        assert conv.connected and conv.max_id >= before
        assert conv.settle(10)
        integ = conv.integrity
        assert (integ.gaps, integ.duplicates, integ.out_of_order) == (0, 0, 0), integ
        conv.close()
        drops = srv.metrics()[f'loadtest_faults_total{{kind="drop_{mode}"}}']
    assert drops >= 1


def test_drop_and_reconnect_mid_turn() -> None:
    """drop() after the echo; the agent keeps going; the replay and the live stream finish the turn."""
    with ReferenceServer("--event-delay-ms", "40", "--max-conversations", "0", "--no-http-limit") as srv:
        rec = Recorder()
        conv = Conversation(ConversationConfig(srv.url), listener=rec)
        conv.connect()
        assert conv.send_message("first", timeout=30).end_state == "awaiting_user_input"
        gevent.sleep(1.1)  # past the pacing window of the create and the connect: the reconnect may start at once
        turn = conv.send_message("interrupted", wait=False)
        assert wait_until(lambda: turn.echo_at is not None, timeout=10)
        conv.drop(abrupt=True)
        assert rec.disconnects == ["client_abort"]
        assert conv.wait(turn, 1).end_state is None  # returns at once: not connected
        gevent.sleep(0.15)  # events keep being stored while we are away
        rr = conv.reconnect(max_attempts=5, deadline=10)
        assert rr.ok and rr.replayed_events >= 2
        assert rr.recovery_ms is not None and rr.recovery_ms >= 150
        # A turn was in flight: resync ends at the first new live event, after the CONNECT ack.
        assert rr.resync_ms is not None and rr.resync_ms > rr.recovery_ms
        assert conv.wait(turn, 30).end_state == "awaiting_user_input"
        assert turn.echo_ms is not None and turn.turn_ms is not None
        # The replay legitimately withholds the recall action and older state events of the turn.
        assert 8 <= turn.events <= 11 and len(turn.gaps_ms) == turn.events - 1
        assert max(turn.gaps_ms) >= 150  # the outage shows as one long gap
        assert conv.settle(10)
        integ = conv.integrity
        assert integ.duplicates == 0 and integ.out_of_order == 0
        # OpenHands' inherent window (events stored between the replay snapshot and joining the room are
        # never sent on that connection) may cost at most one event here; the reference server has it too.
        assert integ.gaps <= 1, integ
        conv.close()


def test_reconnect_honours_handshake_retry_after() -> None:
    with ReferenceServer("--handshake-rate", "1", "--max-conversations", "0", "--no-http-limit") as srv:
        first = Conversation(ConversationConfig(srv.url))
        first.connect()
        rec = Recorder()
        conv = Conversation(ConversationConfig(srv.url), first.conversation_id, listener=rec)
        with pytest.raises(HandshakeRejected) as info:
            conv.connect()
        assert info.value.status == 429 and info.value.retry_after is not None and info.value.retry_after >= 1
        assert repr(info.value) == "HandshakeRejected(status=429)"
        assert rec.signals["handshake_429"] == 1
        started = time.perf_counter()
        rr = conv.reconnect(max_attempts=6, deadline=20)
        elapsed = time.perf_counter() - started
        assert rr.ok, rr
        assert rec.signals["handshake_429"] == rr.attempts  # every attempt but the last was refused
        with urllib.request.urlopen(f"{srv.url}/debug/handshakes", timeout=10) as resp:
            log = json.load(resp)
        mine = [a for a in log["attempts"] if a["conversation_id"] == first.conversation_id]
        first.close()
        conv.close()
    assert elapsed >= info.value.retry_after * (rr.attempts - 1) - 0.05
    # Server-side proof: no attempt came before the previous refusal's Retry-After had passed.
    for prev, nxt in itertools.pairwise(mine):
        if prev["status"] == 429:
            assert nxt["t"] - prev["t"] >= prev["retry_after"] - 0.01, (prev, nxt)


def test_reconnect_gives_up_within_bounds() -> None:
    with ReferenceServer("--max-conversations", "0") as srv:
        url = srv.url
        conv = Conversation(ConversationConfig(url, backoff_initial=0.05, backoff_max=0.1))
        conv.connect()
    # The server is gone: every attempt fails; the attempt bound holds.
    started = time.perf_counter()
    rr = conv.reconnect(max_attempts=3, deadline=10)
    assert not rr.ok and rr.attempts == 3 and rr.error is not None
    assert time.perf_counter() - started < 5
    rr = conv.reconnect(max_attempts=100, deadline=0.3)
    assert not rr.ok and rr.attempts < 100
    conv.close()
