"""The server's pure parts on plain data: replay selection, faults, limiters, turn plans, payloads, config."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from socketio import packet

from loadtest.server import events as ev
from loadtest.server.agent import plan_turn, wants_finish
from loadtest.server.config import ConfigError, ServerConfig, load_profile
from loadtest.server.faults import event_fault, faulty_replay, jittered, pick_drops
from loadtest.server.inputs import check_action, providers_error
from loadtest.server.limits import HandshakeAttempt, HandshakeLog, HttpLimiter, WindowLimiter, retry_after_header
from loadtest.server.metrics import Metrics, render
from loadtest.server.store import ConversationLog, parse_latest_event_id, select_replay
from loadtest.server.wire import RawAwarePacket, RawJSON

PROFILES = Path(__file__).resolve().parents[2] / "loadtest" / "server" / "profiles"


def _log() -> ConversationLog:
    """0 loading, 1 system, 2 env change_agent_state, 3 awaiting, 4 user msg, 5 recall, 6 running, 7 null, 8 msg."""
    log = ConversationLog(clock=lambda: "2025-11-28T12:00:00.000001")
    for draft in (
        ev.agent_state("loading"),
        ev.system_message(),
        ev.change_agent_state("awaiting_user_input"),
        ev.agent_state("awaiting_user_input"),
        ev.user_message("hi"),
        ev.recall_action("hi", False),
        ev.agent_state("running"),
        ev.null_observation(5),
        ev.agent_message("hello", 1),
    ):
        log.append(draft)
    return log


def test_replay_skips_null_and_recall_and_sends_only_the_newest_state_last() -> None:
    log = _log()
    ids = [s.id for s in select_replay(log.events, -1)]
    assert ids == [1, 2, 4, 8, 6]
    assert [s.id for s in select_replay(log.events, 4)] == [8, 6]
    assert [s.id for s in select_replay(log.events, 8)] == []
    replayed_state = select_replay(log.events, -1)[-1]
    assert json.loads(replayed_state.stored_json)["source"] == "environment"


def test_live_view_rewrites_environment_sources_and_hides_null_and_env_actions() -> None:
    log = _log()
    by_id = {s.id: s for s in log.events}
    assert by_id[0].live_json is not None and json.loads(by_id[0].live_json)["source"] == "agent"
    assert by_id[2].live_json is None  # environment-sourced action
    assert by_id[7].live_json is None  # NullObservation
    assert by_id[5].live_json is not None  # recall action: live, never replayed
    assert by_id[4].live_json == by_id[4].stored_json


def test_event_key_order_matches_openhands() -> None:
    log = ConversationLog(clock=lambda: "t")
    action, obs = ev.run_pair(random.Random(1), 1, 0, 100, True)
    a = log.append(action)
    o = log.append(obs, a.id)
    assert list(a.payload)[:6] == ["id", "timestamp", "source", "message", "action", "tool_call_metadata"]
    assert list(o.payload) == [
        "id", "timestamp", "source", "message", "cause", "observation", "tool_call_metadata", "content", "extras",
        "success",
    ]  # fmt: skip
    assert o.payload["cause"] == a.id and o.payload["success"] is True


def test_page_and_latest_event_id_parsing() -> None:
    log = _log()
    events, more = log.page(0, None, False, 5)
    assert [e.id for e in events] == [0, 1, 2, 3, 4] and more
    events, more = log.page(5, None, False, 100)
    assert [e.id for e in events] == [5, 6, 7, 8] and not more
    events, _ = log.page(0, 2, True, 100)
    assert [e.id for e in events] == [2, 1, 0]
    assert parse_latest_event_id([]) == -1
    assert parse_latest_event_id(["undefined"]) == -1
    assert parse_latest_event_id(["12"]) == 12


def test_faulty_replay_touches_only_non_state_events() -> None:
    log = _log()
    replay = select_replay(log.events, -1)  # 1, 2, 4, 8, state 6
    plan = faulty_replay(replay, 2, 0)
    assert [s.id for s in plan.events] == [1, 4, 6] and plan.skipped == 2
    plan = faulty_replay(replay, 0, 3)
    assert [s.id for s in plan.events] == [1, 2, 4, 4, 8, 6] and plan.repeated == 1
    assert faulty_replay(replay, 0, 0).events == replay


def test_pick_drops_and_jitter_and_event_faults() -> None:
    rng = random.Random(0)
    assert pick_drops([], 0.5, rng) == []
    assert len(pick_drops(list(range(10)), 0.25, rng)) == 3
    assert len(pick_drops(list(range(3)), 0.01, rng)) == 1
    assert jittered(0.1, 0.0, rng) == 0.1
    spread = [jittered(0.1, 0.2, rng) for _ in range(200)]
    assert min(spread) >= 0.08 and max(spread) <= 0.12 and len(set(spread)) > 100
    assert event_fault(10, 5, 200, 0, False).extra_delay_s == 0.2
    assert event_fault(11, 5, 200, 0, False).extra_delay_s == 0
    assert event_fault(4, 0, 0, 3, False).stall and not event_fault(4, 0, 0, 3, True).stall
    assert not event_fault(3, 0, 0, 3, False).stall


def test_http_limiter_matches_openhands_thresholds() -> None:
    limiter = HttpLimiter(10)
    verdicts = [limiter.check("ip", 100.0 + i * 0.001) for i in range(25)]
    assert verdicts.count("ok") == 10 and verdicts.count("delay") == 10 and verdicts.count("reject") == 5
    assert limiter.check("ip", 102.0) == "ok"  # window slid past
    assert limiter.check("other", 100.0) == "ok"


def test_window_limiter_refuses_without_recording_and_says_when() -> None:
    limiter = WindowLimiter(2)
    assert limiter.attempt("a", 0.0) == (True, 0.0)
    assert limiter.attempt("a", 0.1) == (True, 0.0)
    ok, wait = limiter.attempt("a", 0.2)
    assert not ok and wait == pytest.approx(0.8)
    assert limiter.attempt("a", 1.0)[0]
    assert retry_after_header(0.2) == "1" and retry_after_header(1.5) == "2"
    assert WindowLimiter(0).attempt("x", 0.0) == (True, 0.0)
    slow = WindowLimiter(0.5)  # one per 2 s
    assert slow.attempt("b", 0.0)[0] and slow.attempt("b", 1.5) == (False, pytest.approx(0.5))
    assert slow.attempt("b", 2.0)[0]


def test_handshake_log_groups_by_client() -> None:
    log = HandshakeLog(2)
    for t in (1.0, 2.0, 3.0):
        log.add(HandshakeAttempt(t, "127.0.0.1", 5, "websocket", None, 101, None))
    data = log.as_json(4.0)
    assert data["clients"] == {"127.0.0.1": [2.0, 3.0]} and len(data["attempts"]) == 2


def test_turn_plan_default_and_finish() -> None:
    cfg = ServerConfig()
    plan = plan_turn(cfg, "please fix", True, 0, random.Random(0))
    kinds = [d.body.get("action") or d.body.get("observation") for d in plan.drafts]
    assert kinds == [
        "recall", "agent_state_changed", "recall", "run", "run", "edit", "edit", "write", "write", "message",
        "agent_state_changed",
    ]  # fmt: skip
    assert plan.end_state == "awaiting_user_input" and plan.llm_calls == 4
    later = plan_turn(cfg, "again", False, 4, random.Random(0))
    assert later.drafts[2].body["observation"] == "null" and later.drafts[2].hidden_live
    done = plan_turn(cfg, "now FINISH it", False, 0, random.Random(0))
    assert done.drafts[-2].body["action"] == "finish" and done.end_state == "finished"
    assert wants_finish("Finish", "finish") and not wants_finish("finish", "")
    err = plan_turn(ServerConfig(script=("run", "error")), "x", False, 0, random.Random(0))
    assert err.end_state == "error" and err.drafts[-1].body["extras"]["reason"]


def test_check_action_and_providers() -> None:
    assert check_action({"action": "message", "args": {"content": "hi"}}) is None
    assert check_action("text") == "not_an_object"
    assert check_action({"id": 1, "action": "message"}) == "id_in_payload"
    assert check_action({"type": "message", "message": "hi"}) == "missing_action"
    assert check_action({"action": "dance"}) == "unknown_action"
    assert check_action({"action": "run", "args": []}) == "bad_args"
    assert providers_error(["github,gitlab", ""]) is None
    message = providers_error(["github,nope"])
    assert message is not None and "'nope'" in message


def test_raw_packet_encodes_once_and_matches_python_socketio() -> None:
    payload = {"id": 1, "message": "héllo", "n": [1, 2]}
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    raw = RawAwarePacket(packet.EVENT, data=["oh_event", RawJSON(text)]).encode()
    plain = packet.Packet(packet.EVENT, data=["oh_event", payload]).encode()
    assert json.loads(raw[1:]) == json.loads(plain[1:])
    assert raw.startswith('2["oh_event",{')
    assert RawAwarePacket(packet.EVENT, data=["x", 1]).encode() == '2["x",1]'


def test_metrics_render_has_every_kind() -> None:
    m = Metrics()
    m.throttles["http_429"] += 2
    m.bad_input["oversize"] += 1
    text = render(m, {"connections": 3})
    assert 'loadtest_throttles_total{kind="http_429"} 2' in text
    assert 'loadtest_faults_total{kind="replay_skip"} 0' in text
    assert 'loadtest_bad_input_total{kind="oversize"} 1' in text
    assert "loadtest_connections 3" in text


@pytest.mark.parametrize(
    ("changes", "option"),
    [
        ({"port": 70000}, "--port"),
        ({"drop_mode": "sideways"}, "--drop-mode"),
        ({"drop_every": 5.0}, "--drop-share"),
        ({"delay_jitter": 2.0}, "--delay-jitter"),
        ({"script": ("run", "dance")}, "--script"),
        ({"action_limit_mode": "x"}, "--action-limit-mode"),
        ({"event_delay_ms": -1.0}, "--event-delay-ms"),
        ({"replay_skip_every": -1}, "--replay-skip-every"),
    ],
)
def test_config_errors_name_option_value_and_example(changes: dict[str, object], option: str) -> None:
    with pytest.raises(ConfigError) as info:
        ServerConfig(**changes)  # type: ignore[arg-type]
    text = str(info.value)
    assert text.startswith(option) and "for example" in text


def test_shipped_profiles_load_and_validate() -> None:
    files = sorted(PROFILES.glob("*.json"))
    assert files
    for path in files:
        ServerConfig(**load_profile(path))


def test_profile_unknown_key_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"event_delay": 5}')
    with pytest.raises(ConfigError, match="unknown key 'event_delay'"):
        load_profile(bad)


def test_build_app_is_an_asgi_callable_without_importing_client_layers() -> None:
    import sys

    from loadtest.server import build_app

    app = build_app(ServerConfig(max_conversations=0))
    assert callable(app)
    server_modules = [m for m in sys.modules if m.startswith("loadtest.server")]
    assert server_modules
    import ast

    for path in (Path(__file__).resolve().parents[2] / "loadtest" / "server").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(
            n.startswith(("loadtest.sio", "loadtest.openhands", "loadtest.harness", "gevent", "locust")) for n in names
        ), path
