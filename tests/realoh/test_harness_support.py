"""What the harness does for real OpenHands servers, proven without OpenHands (reference server, captured events).

- `--source-ips`: parsing, round robin, and sockets and REST really leaving from those addresses (the reference
  server records each handshake's peer address; its per-IP REST limiter throttles one address, not eight);
- `--seed-settings`: JSON or @FILE, never echoed or written;
- `Conversation.wait_ready`: RUNNING after a slow start (timed, polled), ``not_starting`` for a stopped
  conversation, ``unsupported`` for a server without the route;
- dedupe by id with ``source`` ignored, on the event sequence captured from OpenHands 1.6.0;
- a headless Locust run with `--source-ips` and the `ready` metric in the timeline.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.pool

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from loadtest.harness.options import OptionError, Settings, parse_source_ips
from loadtest.harness.users import pick_source_ip
from loadtest.openhands import Conversation, ConversationConfig, RestClient, RestResult
from loadtest.openhands.rest import DEFAULT_SETTINGS
from tests.harness.locustrun import run_locust
from tests.openhands.recorder import Recorder
from tests.support.procs import PeerProcess, ReferenceServer

EIGHT = tuple(f"127.0.0.{i}" for i in range(2, 10))

# -- options ---------------------------------------------------------------------------------------


def test_source_ips_parse_ranges_lists_and_reject_nonsense() -> None:
    assert parse_source_ips("127.0.0.2-127.0.0.9") == EIGHT
    assert parse_source_ips("127.0.0.3, 127.0.0.2-127.0.0.4;127.0.0.9") == (
        "127.0.0.3",
        "127.0.0.2",
        "127.0.0.4",
        "127.0.0.9",
    )
    assert parse_source_ips("") == () and parse_source_ips("::1") == ("::1",)
    for bad in ("127.0.0.9-127.0.0.2", "localhost", "127.0.0.1-::1", "10.0.0.0-10.1.0.0"):
        with pytest.raises(ValueError):
            parse_source_ips(bad)
    with pytest.raises(OptionError, match=r"--source-ips='127\.0\.0\.300' is not valid.*127\.0\.0\.2-127\.0\.0\.9"):
        Settings.from_options({"source_ips": "127.0.0.300"}, "http://127.0.0.1:3000")
    s = Settings.from_options({"source_ips": "127.0.0.2-127.0.0.4"}, "http://127.0.0.1:3000")
    assert s.source_ips == ("127.0.0.2", "127.0.0.3", "127.0.0.4") and s.wait_ready and s.ready_poll == 3.0


def test_users_take_source_ips_round_robin_with_workers_interleaved() -> None:
    ips = ("a", "b", "c")
    assert [pick_source_ip(ips, seq, 0, 1) for seq in range(4)] == ["a", "b", "c", "a"]
    # two workers: worker 0 takes a, c, b...; worker 1 takes b, a, c...: together every address equally
    assert [pick_source_ip(ips, seq, 1, 2) for seq in range(3)] == ["b", "a", "c"]
    assert pick_source_ip((), 5, 0, 1) is None


def test_seed_settings_from_json_or_file_and_never_shown(tmp_path: Path) -> None:
    secret = {"llm_model": "openai/gpt-x", "llm_api_key": "sk-very-secret", "agent": "CodeActAgent"}
    file = tmp_path / "settings.json"
    file.write_text(json.dumps(secret))
    for value in (json.dumps(secret), f"@{file}"):
        s = Settings.from_options({"seed_settings": value}, "http://127.0.0.1:3000")
        assert s.seed_settings == secret
        assert "sk-very-secret" not in repr(s) and s.public_dict()["seed_settings"] == "***"
    for bad in ('{"llm_api_key": "sk-very-secret",', "[1]", "@/no/such/file.json"):
        with pytest.raises(OptionError) as err:
            Settings.from_options({"seed_settings": bad}, "http://127.0.0.1:3000")
        assert "sk-very-secret" not in str(err.value) and "--seed-settings=***" in str(err.value)
    assert Settings.from_options({}, "http://127.0.0.1:3000").seed_settings is None


# -- source addresses against the reference server ------------------------------------------------


def _burst(url: str, sources: tuple[str | None, ...], n: int) -> list[RestResult]:
    clients = [RestClient(url, source_address=src) for src in sources]
    pool = gevent.pool.Pool(n)
    jobs = [pool.spawn(clients[i % len(clients)].health) for i in range(n)]
    gevent.joinall(jobs, timeout=60, raise_error=True)
    return [job.value for job in jobs]


@pytest.mark.slow
def test_sockets_and_rest_leave_from_the_source_addresses() -> None:
    with ReferenceServer("--event-delay-ms", "5", "--script", "message", "--max-conversations", "100") as server:
        convs = []
        for ip in EIGHT:
            conv = Conversation(ConversationConfig(server.url, source_address=ip), listener=Recorder())
            conv.create()
            conv.connect()
            convs.append(conv)
        handshakes = requests.get(f"{server.url}/debug/handshakes", timeout=10).json()["attempts"]
        assert sorted(a["ip"] for a in handshakes) == sorted(EIGHT), handshakes
        assert convs[3].send_message("hi", timeout=20).end_state == "awaiting_user_input"
        for conv in convs:
            conv.close()
        gevent.sleep(1.2)  # the limiter's window empties
        one = _burst(server.url, (None,), 30)
        assert sum(r.throttle is not None for r in one) >= 10, [r.throttle for r in one]  # over 10/s: delayed or 429
        gevent.sleep(1.2)
        spread = _burst(server.url, EIGHT, 30)  # at most 4 a second per address: never throttled
        assert [(r.status, r.throttle) for r in spread] == [(200, None)] * 30


# -- waiting for RUNNING ---------------------------------------------------------------------------


def test_wait_ready_polls_until_running_then_stopped_and_unsupported_servers() -> None:
    with ReferenceServer("--startup-delay-ms", "700", "--no-http-limit") as server:
        rec = Recorder()
        conv = Conversation(ConversationConfig(server.url, ready_poll=0.2), listener=rec)
        conv.create()
        started = time.perf_counter()
        ready = conv.wait_ready(timeout=20)
        waited = (time.perf_counter() - started) * 1000
        assert ready.ok and ready.outcome == "ready" and ready.status == "RUNNING", ready
        assert ready.runtime_status == "STATUS$READY" and ready.polls >= 2
        assert ready.ready_ms is not None and 600 <= ready.ready_ms <= waited
        assert [call for call, _ in rec.rest].count("ready") == ready.polls
        conv.connect()
        conv.close()
        cid = conv.conversation_id
        assert requests.post(f"{server.url}/api/conversations/{cid}/stop", timeout=10).ok
        again = Conversation(ConversationConfig(server.url), cid).wait_ready(timeout=20)
        assert (again.ok, again.outcome, again.status, again.polls) == (False, "not_starting", "STOPPED", 1)
        with pytest.raises(RuntimeError, match="needs a conversation id"):
            Conversation(ConversationConfig(server.url)).wait_ready()
    peer = [sys.executable, str(Path(__file__).parents[1] / "peers" / "pysio_server.py"), "--mode", "sio"]
    with PeerProcess(peer) as plain:  # a Socket.IO server without OpenHands' REST routes
        res = Conversation(ConversationConfig(f"http://127.0.0.1:{plain.port}"), "x").wait_ready(timeout=20)
        assert (res.ok, res.outcome, res.polls) == (False, "unsupported", 1)


def test_wait_ready_times_out_on_a_conversation_that_never_runs() -> None:
    with ReferenceServer("--startup-delay-ms", "60000", "--no-http-limit") as server:
        # polls share the user's connection pacing (at most 2 connections in any 1 s), so 2.5 s holds >= 3 polls
        conv = Conversation(ConversationConfig(server.url, ready_poll=0.2, ready_timeout=2.5))
        conv.create()
        res = conv.wait_ready()
        assert (res.ok, res.outcome, res.status) == (False, "timeout", "STARTING") and res.polls >= 3


# -- dedupe on what OpenHands 1.6.0 sends ----------------------------------------------------------


class _StubClient:
    """Stands in for the socket: `connected` says whether events are live (True) or replayed (False)."""

    def __init__(self) -> None:
        self.connected = False

    def emit(self, event: str, *args: Any) -> int:
        return 100


def _ev(eid: int | None, source: str, **fields: Any) -> dict[str, Any]:
    return {"id": eid, "source": source, "message": "", **fields}


def _state(eid: int, source: str, state: str) -> dict[str, Any]:
    return _ev(eid, source, observation="agent_state_changed", content="", extras={"agent_state": state})


def _feed(conv: Conversation, events: list[dict[str, Any]]) -> None:
    for payload in events:
        conv._on_event("oh_event", [payload], time.perf_counter(), 100)


def test_dedupe_by_id_ignoring_source_on_the_sequence_openhands_sends() -> None:
    """Captured from OpenHands 1.6.0 (cli runtime, our mock LLM), first join right after RUNNING."""
    rec = Recorder()
    conv = Conversation(ConversationConfig("http://127.0.0.1:9", audit_holes=False), "c1", listener=rec)
    client = _StubClient()
    conv._client = client  # type: ignore[assignment]
    conv._replaying = True
    _feed(conv, [  # the replay
        _ev(1, "agent", action="system"),
        _ev(2, "environment", action="change_agent_state", args={"agent_state": "awaiting_user_input"}),
        _state(3, "environment", "awaiting_user_input"),
    ])  # fmt: skip
    conv._replaying, client.connected = False, True
    _feed(conv, [  # live: start-up events held for the first listener, ids 1 and 3 again (3 now from `agent`)
        _state(0, "agent", "loading"),
        {"status_update": True, "type": "info", "id": "STATUS$STARTING_RUNTIME", "message": ""},
        _ev(1, "agent", action="system"),
        _state(3, "agent", "awaiting_user_input"),
    ])  # fmt: skip
    turn = conv.send_message("hello", wait=False)
    _feed(conv, [
        _ev(4, "user", action="message", args={"content": "hello"}),
        {"status_update": True, "type": "info", "id": None, "message": "c1"},
        _ev(5, "user", action="recall"),
        _ev(7, "agent", observation="recall"),
        _state(6, "agent", "running"),  # after 7 on the live stream
        _ev(8, "agent", action="run", args={"command": "echo hi"}),
        _ev(9, "agent", observation="run", content="hi"),
        _ev(10, "agent", action="finish"),
        _state(11, "agent", "finished"),
    ])  # fmt: skip
    assert turn.end_state == "finished" and turn.echo_at is not None and turn.first_agent_at is not None
    assert rec.integrity == {"duplicate": 2, "out_of_order": 2}  # ids 1, 3 again; 0 and 6 late
    second = conv.send_message("again", wait=False)
    _feed(conv, [
        _ev(12, "user", action="message", args={"content": "again"}),
        _state(11, "environment", "finished"),  # the previous turn's end once more, stored `source`
        _state(6, "environment", "running"),
    ])  # fmt: skip
    assert second.end_state is None and not second.started  # copies are counted, never acted on
    assert rec.integrity["duplicate"] == 4 and rec.signals == {}
    _feed(conv, [_state(13, "agent", "running"), _ev(14, "agent", action="finish"), _state(15, "agent", "finished")])
    assert second.end_state == "finished" and [t.end_state for t in rec.turns] == ["finished", "finished"]


# -- end to end: Locust with --source-ips and the ready metric ------------------------------------


@pytest.mark.slow
def test_locust_run_spreads_users_over_source_ips_and_times_ready(tmp_path: Path) -> None:
    with ReferenceServer(
        "--event-delay-ms", "5", "--script", "message", "--startup-delay-ms", "300", "--max-conversations", "100"
    ) as server:  # fmt: skip
        r = run_locust(
            server.url, tmp_path / "run", "--source-ips", "127.0.0.2-127.0.0.9", "--seed-settings",
            json.dumps(DEFAULT_SETTINGS), "ChatUser", users=8, run_time="5s",
        )  # fmt: skip
        handshakes = requests.get(f"{server.url}/debug/handshakes", timeout=10).json()["attempts"]
    assert r.rc == 0, r.output[-3000:]
    assert sorted(a["ip"] for a in handshakes) == sorted(EIGHT), handshakes
    total = r.total()
    assert total.hists["ready"].count == 8 and total.counter("turns") >= 8, r.output[-3000:]
    assert 250 <= r.p50("ready") <= 5000  # the server's start-up delay, seen through the polls
    assert not total.counter("throttled.http_delayed") and not total.counter("throttled.http_429")
    assert r.run["settings"]["source_ips"] == list(EIGHT) and r.run["settings"]["seed_settings"] == "***"
