"""The conversation contract: one test body drives V0 and V1 through `pick_api` and `Listener` alone, against
our reference server in each mode; ``--api auto`` probes real servers; refusals raise the errors `Api` names."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from loadtest.openhands.contract import (
    INTEGRITY,
    SIGNALS,
    ApiError,
    ClientSettings,
    Listener,
    TurnLike,
    pick_api,
)
from loadtest.openhands.rest import RestResult
from tests.support.procs import ReferenceServer

KEY = "contract-test-key"
SETTINGS: dict[str, Any] = {"agent": {"llm": {"model": "openai/mock-model", "api_key": "sk-contract-secret"}}}


class Seen(Listener):
    """Everything the contract's callbacks reported."""

    def __init__(self) -> None:
        self.events = 0
        self.integrity: Counter[str] = Counter()
        self.signals: Counter[str] = Counter()
        self.disconnects: list[str] = []
        self.turns: list[TurnLike] = []
        self.rest: list[tuple[str, int]] = []

    def on_event(self, conv: Any, kind: Any, size: int, received_at: float) -> None:
        self.events += 1

    def on_integrity(self, conv: Any, kind: str, count: int) -> None:
        self.integrity[kind] += count

    def on_signal(self, conv: Any, signal: str) -> None:
        self.signals[signal] += 1

    def on_disconnect(self, conv: Any, reason: str) -> None:
        self.disconnects.append(reason)

    def on_turn(self, conv: Any, turn: TurnLike) -> None:
        self.turns.append(turn)

    def on_rest(self, conv: Any, call: str, result: RestResult) -> None:
        self.rest.append((call, result.status))


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ReferenceServer]]:
    delays = ("--echo-delay-ms", "5", "--event-delay-ms", "10")
    with (
        ReferenceServer("--session-api-key", KEY, *delays, "--script", "message") as v0,
        ReferenceServer("--api", "v1", "--session-api-key", KEY, *delays, "--script", "finish") as v1,
    ):
        yield {"v0": v0, "v1": v1}


def settings(url: str, **kw: Any) -> ClientSettings:
    base: dict[str, Any] = {
        "base_url": url,
        "session_api_key": KEY,
        "agent_settings": SETTINGS,
        "connect_timeout": 5.0,
        "turn_timeout": 10.0,
        "reconnect_max_attempts": 3,
    }
    base.update(kw)
    return ClientSettings(**base)


@pytest.mark.parametrize("api", ["v0", "v1"])
def test_one_contract_drives_either_protocol(servers: dict[str, ReferenceServer], api: str) -> None:
    server = servers[api]
    chosen = pick_api(api, server.url)
    assert chosen.name == api and chosen.found == f"--api {api}"
    seen = Seen()
    conv = chosen.build(settings(server.url), None, seen)
    conv.create()
    assert conv.conversation_id
    assert conv.wait_ready(5.0).outcome in ("ready", "unsupported")
    cr = conv.connect()
    assert conv.connected and cr.duration_ms > 0
    try:
        turn = conv.send_message("hello", wait=False)
        conv.wait(turn, 10.0)
        assert turn.end_state in ("awaiting_user_input", "finished"), turn
        assert turn.echo_ms is not None and turn.first_event_ms is not None and turn.turn_ms is not None
        assert 5.0 <= turn.echo_ms <= turn.first_event_ms <= turn.turn_ms < 5000.0
        assert turn.ttft_ms is None and not turn.token_gaps_ms  # no streaming asked
        assert turn.events > 0 and turn.action_bytes > 0 and seen.turns == [turn]
        conv.drop(abrupt=True)
        assert not conv.connected and seen.disconnects[-1] == "client_abort"
        rr = conv.reconnect()
        assert rr.ok and rr.recovery_ms is not None, rr
        again = conv.send_message("again")
        assert again.end_state in ("awaiting_user_input", "finished"), again
        conv.settle(timeout=5.0)
        counts = conv.integrity
        assert counts.events >= turn.events + again.events and counts.bytes > 0
        assert counts.gaps == counts.duplicates == 0
        assert seen.events >= counts.events - 1  # every counted event reached the listener
        assert set(seen.integrity) <= set(INTEGRITY) and set(seen.signals) <= set(SIGNALS)
        assert seen.integrity["gap"] == seen.integrity["duplicate"] == 0
        assert ("create", 200) in seen.rest or ("create", 201) in seen.rest
    finally:
        conv.close()
    assert not conv.connected
    with pytest.raises(chosen.send_errors):
        conv.send_message("after close")


@pytest.mark.parametrize("key_via", ["first-frame", "header", "query"])
def test_v1_sends_the_key_as_asked(servers: dict[str, ReferenceServer], key_via: str) -> None:
    server = servers["v1"]
    api = pick_api("v1", server.url)
    conv = api.build(settings(server.url, key_via=key_via), None, Seen())
    conv.connect()  # creates first
    try:
        assert conv.send_message("hi").end_state == "finished"
    finally:
        conv.close()
    wrong = api.build(settings(server.url, key_via=key_via, session_api_key="wrong"), conv.conversation_id, Seen())
    with pytest.raises(api.connect_errors) as err:
        wrong.connect()
    assert repr(err.value) == ("V1Refused(4001)" if key_via == "first-frame" else "HandshakeRejected(status=403)")


@pytest.mark.parametrize("api", ["v0", "v1"])
def test_refusals_raise_the_errors_the_api_names(servers: dict[str, ReferenceServer], api: str) -> None:
    server = servers[api]
    chosen = pick_api(api, server.url)
    wrong = settings(server.url, session_api_key="not-the-key", reconnect_max_attempts=1)
    with pytest.raises(chosen.create_errors):
        chosen.build(wrong, None, Seen()).create()
    good = chosen.build(settings(server.url), None, Seen())
    good.create()
    joiner = chosen.build(wrong, good.conversation_id, Seen())
    with pytest.raises(chosen.connect_errors):
        joiner.connect()
    assert not joiner.connected
    good.close()


@pytest.mark.parametrize("api", ["v0", "v1"])
def test_auto_probes_the_target_and_says_what_it_found(servers: dict[str, ReferenceServer], api: str) -> None:
    chosen = pick_api("auto", servers[api].url)
    assert chosen.name == api
    assert chosen.found.startswith("--api auto: ")
    assert ("sdk_version" if api == "v1" else "Engine.IO") in chosen.found


def test_auto_names_both_probes_when_nothing_answers() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ApiError) as err:
        pick_api("auto", f"http://127.0.0.1:{port}", timeout=2.0)
    text = str(err.value)
    assert "/server_info" in text and "/socket.io/" in text and "--api v0 or --api v1" in text


def test_unknown_api_and_mismatched_options_are_named() -> None:
    with pytest.raises(ApiError, match="use --api v0, v1 or auto"):
        pick_api("v2", "http://127.0.0.1:1")
    v1 = pick_api("v1", "http://127.0.0.1:1")
    with pytest.raises(ApiError, match="--agent-settings"):
        v1.build(settings("http://127.0.0.1:1", agent_settings=None), None, Seen())
    with pytest.raises(ApiError, match="cookie is V0's"):
        v1.build(settings("http://127.0.0.1:1", key_via="cookie"), "c", Seen())
    with pytest.raises(ApiError, match="first-frame is V1's"):
        pick_api("v0", "http://127.0.0.1:1").build(settings("http://127.0.0.1:1", key_via="first-frame"), None, Seen())
    assert {"socket_cap", "run_limit", "http_429", "handshake_429"} <= set(SIGNALS)
    assert {"gap", "duplicate", "out_of_order", "overlap", "interleaved"} <= set(INTEGRITY)
