"""`V1Conversation` against the other V1 servers: our reference server (`loadtest serve --api v1`, with its
injected delays and faults counted in `/metrics`) and the Node peer (`tests/node/v1_server.js`, another stack)."""

from __future__ import annotations

import gevent

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadtest.openhands.pacing import WINDOW_S
from loadtest.openhands.v1.config import V1Config
from loadtest.openhands.v1.conversation import V1Conversation, V1Refused
from loadtest.ws import ConnectTimeout
from tests.support.procs import PeerProcess, ReferenceServer, node_script

from .peer import KEY, SETTINGS, Recorder

E_MS, D_MS = 5.0, 10.0


def cfg(server: PeerProcess, **kw: Any) -> V1Config:
    base: dict[str, Any] = {
        "base_url": server.url,
        "session_api_key": KEY,
        "agent_settings": SETTINGS,
        "working_dir": "/tmp",
        "connect_timeout": 5.0,
        "turn_timeout": 10.0,
        "audit_rate": 100.0,
    }
    base.update(kw)
    return V1Config(**base)


def faults(server: ReferenceServer, kind: str) -> float:
    return server.metrics().get(f'loadtest_faults_total{{kind="{kind}"}}', 0.0)


@pytest.fixture(scope="module")
def reference() -> Iterator[ReferenceServer]:
    opts = ("--echo-delay-ms", str(E_MS), "--event-delay-ms", str(D_MS), "--script", "finish")
    with ReferenceServer("--api", "v1", "--session-api-key", KEY, *opts) as server:
        yield server


@pytest.mark.parametrize("socket", ["events", "session"])
@pytest.mark.parametrize("send_via", ["socket", "rest"])
def test_reference_turn_timings_match_the_schedule(reference: ReferenceServer, socket: str, send_via: str) -> None:
    rec = Recorder()
    conv = V1Conversation(cfg(reference, socket=socket, send_via=send_via), listener=rec)
    conv.connect()
    try:
        for text in ("first", "second"):
            turn = conv.send_message(text)
            assert turn.end_state == "finished", turn
            # --script finish: echo at E, the ActionEvent at E + 2d (after running, stats), the end at E + 4d
            assert turn.echo_ms is not None and E_MS <= turn.echo_ms < E_MS + 15.0
            assert turn.first_event_ms is not None and E_MS + 2 * D_MS <= turn.first_event_ms < E_MS + 2 * D_MS + 15.0
            assert turn.turn_ms is not None and E_MS + 4 * D_MS <= turn.turn_ms < E_MS + 4 * D_MS + 15.0
        assert sum(rec.integrity.values()) == 0 and not rec.signals
    finally:
        conv.close()


@pytest.mark.parametrize("socket", ["events", "session"])
def test_reference_replay_faults_counted_as_injected(socket: str) -> None:
    with ReferenceServer(
        "--api",
        "v1",
        "--session-api-key",
        KEY,
        "--script",
        "finish",
        "--replay-skip-every",
        "4",
        "--replay-repeat-every",
        "5",
    ) as server:
        seed = V1Conversation(cfg(server))
        seed.connect()
        for i in range(3):
            seed.send_message(f"history {i}")
        seed.close()
        rec = Recorder()
        conv = V1Conversation(cfg(server, socket=socket), seed.conversation_id, listener=rec)  # a join replays all
        conv.connect()
        assert conv.frames.wait_quiet(5.0)
        skipped, repeated = faults(server, "replay_skip"), faults(server, "replay_repeat")
        assert skipped > 0 and repeated > 0
        conv.settle()  # the events socket's gaps come from the REST audit; the session socket's at its snapshot
        assert rec.integrity["gap"] == skipped
        assert rec.integrity["duplicate"] == repeated
        conv.close()


def test_reference_interleaved_replay_is_counted_and_held() -> None:
    with ReferenceServer(
        "--api",
        "v1",
        "--session-api-key",
        KEY,
        "--script",
        "finish",
        "--event-delay-ms",
        "10",
        "--replay-interleave-ms",
        "60",
    ) as server:
        rec = Recorder()
        conv = V1Conversation(cfg(server, replay_quiet=0.1), listener=rec)
        conv.create()
        gevent.sleep(WINDOW_S)  # the create's pacing slot leaves the window: connect and reconnect take its 2 slots
        conv.connect()
        conv.send_message("history")
        turn = conv.send_message("across the drop", wait=False)
        conv.drop()
        assert conv.reconnect().ok
        conv.wait(turn)
        assert turn.end_state == "finished"
        assert conv.frames.wait_quiet(5.0)
        assert rec.integrity["interleaved"] >= 1
        assert rec.integrity["gap"] == 0 and conv.settle() == 0
        conv.close()


def test_reference_socket_cap() -> None:
    with ReferenceServer("--api", "v1", "--session-api-key", KEY, "--socket-cap", "1") as server:
        first = V1Conversation(cfg(server))
        first.connect()
        rec = Recorder()
        second = V1Conversation(cfg(server), first.conversation_id, listener=rec)
        with pytest.raises(V1Refused) as info:
            second.connect()
        assert repr(info.value) == "V1Refused(1013)" and rec.signals == {"socket_cap": 1}
        first.close()


def test_reference_missing_snapshot() -> None:
    with ReferenceServer("--api", "v1", "--session-api-key", KEY, "--snapshot-drop-every", "1") as server:
        rec = Recorder()
        conv = V1Conversation(cfg(server, connect_timeout=1.0), listener=rec)
        with pytest.raises(ConnectTimeout) as info:
            conv.connect()
        assert repr(info.value) == "ConnectTimeout('snapshot')"
        assert rec.integrity["missing_snapshot"] == faults(server, "snapshot_drop") == 1


@pytest.fixture(scope="module")
def node_peer(node_modules: Path) -> Iterator[PeerProcess]:
    with node_script("v1_server.js", "--key", KEY, "--delay-ms", str(D_MS)) as peer:
        yield peer


@pytest.mark.parametrize("socket", ["events", "session"])
def test_node_peer_turns_and_resume(node_peer: PeerProcess, socket: str) -> None:
    rec = Recorder()
    conv = V1Conversation(cfg(node_peer, socket=socket), listener=rec)
    conv.connect()
    try:
        turn = conv.send_message("hello node")
        assert turn.end_state == "finished" and turn.turn_ms is not None and turn.turn_ms >= 2 * D_MS
        conv.drop()
        assert conv.reconnect().ok
        assert conv.frames.wait_quiet(5.0)
        assert conv.send_message("after the drop").end_state == "finished"
        assert rec.integrity["duplicate"] == 0 and rec.integrity["gap"] == 0 and conv.settle() == 0
        if socket == "events":
            assert rec.integrity["overlap"] == 1
    finally:
        conv.close()


def test_node_peer_refusals(node_peer: PeerProcess) -> None:
    conv = V1Conversation(cfg(node_peer))
    conv.connect()
    cid = conv.conversation_id
    conv.close()
    with pytest.raises(V1Refused) as info:
        V1Conversation(cfg(node_peer, session_api_key="wrong"), cid).connect()
    assert repr(info.value) == "V1Refused(4001)"
    with pytest.raises(V1Refused) as unknown:
        V1Conversation(cfg(node_peer), "00000000-0000-4000-8000-000000000000").connect()
    assert repr(unknown.value) == "V1Refused(4004)"
