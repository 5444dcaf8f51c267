"""The simulated agent over the wire: seeded content, jitter, idle cleanup, title updates, scripts."""

from __future__ import annotations

import itertools
import statistics
from typing import Any

import requests

from tests.server.peers import create, peer, rest_events, state_of, wait_until
from tests.support.procs import ReferenceServer


def _one_turn(seed: str) -> list[dict[str, Any]]:
    with ReferenceServer("--seed", seed, "--event-delay-ms", "1") as srv:
        cid = create(srv.url)
        with peer(srv.url, cid) as p:
            p.send("same words")
            assert p.wait_state("awaiting_user_input", count=2)
        return [{k: v for k, v in e.items() if k != "timestamp"} | {"cid": cid} for e in rest_events(srv.url, cid)]


def test_same_seed_same_conversation_ids_and_content() -> None:
    first, second = _one_turn("5"), _one_turn("5")
    assert first == second
    assert _one_turn("6")[0]["cid"] != first[0]["cid"]


def test_jitter_spreads_gaps_around_the_delay() -> None:
    options = ("--event-delay-ms", "20", "--delay-jitter", "0.5", "--script", "run,run,run,message")
    with ReferenceServer(*options) as srv, peer(srv.url, create(srv.url)) as p:
        mark = len(p.events)
        p.send("jitter")
        assert p.wait_state("awaiting_user_input", count=2)
        times = [t for t, e in p.events[mark + 1 :] if "id" in e and isinstance(e["id"], int)]
        gaps = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
        assert 7 <= statistics.median(gaps) <= 33 and all(g <= 60 for g in gaps), gaps
        assert max(gaps) - min(gaps) > 3, gaps  # not the exact schedule


def test_first_turn_sends_a_title_update() -> None:
    with ReferenceServer("--event-delay-ms", "1") as srv:
        cid = create(srv.url)
        with peer(srv.url, cid) as p:
            p.send("Fix the flaky test\nplease")
            assert p.wait_state("awaiting_user_input", count=2)
            titles = [e for e in p.payloads if "conversation_title" in e]
            assert titles == [
                {"status_update": True, "type": "info", "message": cid, "conversation_title": "Fix the flaky test"}
            ]
        assert requests.get(f"{srv.url}/api/conversations/{cid}", timeout=5).json()["title"] == "Fix the flaky test"


def test_idle_unwatched_loops_are_closed_after_close_delay() -> None:
    with ReferenceServer("--event-delay-ms", "1", "--close-delay", "0.3") as srv:
        watched, idle = create(srv.url), create(srv.url)
        with peer(srv.url, watched):
            assert wait_until(lambda: state_of(rest_events(srv.url, idle)[-1]) == "stopped", timeout=3)
            assert requests.get(f"{srv.url}/api/conversations/{idle}", timeout=5).json()["status"] == "STOPPED"
            assert requests.get(f"{srv.url}/api/conversations/{watched}", timeout=5).json()["status"] == "RUNNING"


def test_error_step_ends_the_turn_in_error() -> None:
    with ReferenceServer("--event-delay-ms", "1", "--script", "run,error") as srv, peer(srv.url, create(srv.url)) as p:
        p.send("break")
        assert p.wait_state("error")
        error = next(e for e in p.payloads if e.get("observation") == "error")
        assert error["source"] == "agent" and error["extras"]["error_id"] == "AGENT_ERROR$SIMULATED"
        last = p.payloads[-1]
        assert state_of(last) == "error" and last["extras"]["reason"].startswith("RuntimeError")


def test_message_during_start_up_goes_straight_to_running() -> None:
    with ReferenceServer("--event-delay-ms", "1", "--startup-delay-ms", "300") as srv:
        cid = create(srv.url)
        with peer(srv.url, cid) as p:
            assert p.states() == ["loading"]  # replayed while the runtime starts
            info = requests.get(f"{srv.url}/api/conversations/{cid}", timeout=5).json()
            assert info["status"] == "STARTING"
            p.send("early bird")
            assert p.wait_state("awaiting_user_input", timeout=3)
            assert p.states() == ["loading", "running", "awaiting_user_input"]
            assert any(e.get("id") == "STATUS$READY" for e in p.payloads)
