"""End to end against a real OpenHands 1.6.0 server (cli runtime) driven by our mock LLM, with python-socketio.

One conversation over REST, python-socketio on the websocket transport: a turn (the mock asks for a harmless
`echo`, then `finish`), an injected LLM 429 (state `rate_limited`) and recovery, reconnects with
`latest_event_id` checked against the stored events. The server comes from the package fixture in conftest.py.
Timings and the event sequence go to tests/artifacts/real_openhands.json.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.realoh.oh_server import BASH_COMMAND, Server, expected_replay
from tests.realoh.socket_log import Received, SocketLog

pytestmark = [pytest.mark.real_openhands, pytest.mark.slow]

TURN_TIMEOUT_S = 60.0


def _is_state(state: str) -> Any:
    return lambda r: r.state == state


@pytest.mark.timeout(360)  # the whole test, fixture set-up (install + start) included
def test_turn_rate_limit_and_replay_against_real_openhands(openhands: Server, artifacts_dir: Path) -> None:
    report: dict[str, Any] = {"up_seconds": round(openhands.up_seconds, 1)}
    t0 = time.monotonic()
    created = requests.post(f"{openhands.url}/api/conversations", json={}, timeout=30)
    assert created.status_code == 200, created.text
    cid = created.json()["conversation_id"]
    report["create_ms"] = round(1000 * (time.monotonic() - t0))
    deadline = time.monotonic() + 60
    info: dict[str, Any] = {}
    while time.monotonic() < deadline:  # as the frontend does: join once RUNNING
        info = requests.get(f"{openhands.url}/api/conversations/{cid}", timeout=10).json() or {}
        if info.get("status") == "RUNNING":
            break
        time.sleep(0.5)
    assert info.get("status") == "RUNNING", info
    report["running_ms"] = round(1000 * (time.monotonic() - t0))

    log = SocketLog(openhands.url, cid)
    try:
        report["connect_ms"] = round(1000 * (log.connected - log.started))
        log.wait_for(_is_state("awaiting_user_input"), TURN_TIMEOUT_S)
        report["ready_ms"] = round(1000 * (time.monotonic() - t0))

        # 1. A turn: echo (run + run observation), finish, state finished.
        mark = len(log.received)
        sent = log.emit_message("hello")
        echo = log.wait_for(lambda r: r.event.get("source") == "user" and r.event.get("action") == "message", 30)
        finished = log.wait_for(_is_state("finished"), TURN_TIMEOUT_S, after=mark)
        log.settle()
        turn = [r for r in log.received[mark:] if r.id is not None]
        kinds = [(r.event.get("action") or r.event.get("observation")) for r in turn]
        assert kinds.index("run") < kinds.index("finish") < len(kinds) - 1 - kinds[::-1].index("agent_state_changed")
        run = next(r.event for r in turn if r.event.get("action") == "run")
        assert run["args"]["command"] == BASH_COMMAND
        output = next(r.event for r in turn if r.event.get("observation") == "run")
        assert output["success"] is True and output["extras"]["metadata"]["exit_code"] == 0
        assert output["extras"]["metadata"]["working_dir"] == str(openhands.run_dir / "workspace")
        # 1.6.0's CLIRuntime sometimes loses a command's output ("Error reading directly from stdout after
        # loop ... cannot access local variable 'line'"): the content is then "", so it is only recorded.
        report["run_output"] = output["content"]
        report["turn"] = {
            "echo_ms": round(1000 * (echo.at - sent)),
            "finished_ms": round(1000 * (finished.at - sent)),
            "events": [r.brief() for r in log.received[mark:]],
        }

        # 2. An LLM 429 on the agent's call: state rate_limited; the next message recovers.
        faults = requests.post(f"{openhands.llm_url}/faults", json={"every": 1, "retry_after": 1}, timeout=5)
        assert faults.status_code == 200
        mark = len(log.received)
        sent = log.emit_message("hello again")
        limited = log.wait_for(_is_state("rate_limited"), TURN_TIMEOUT_S, after=mark)
        report["rate_limited_ms"] = round(1000 * (limited.at - sent))
        requests.post(f"{openhands.llm_url}/faults", json={}, timeout=5)
        mark2 = len(log.received)
        sent = log.emit_message("once more")
        recovered = log.wait_for(_is_state("finished"), TURN_TIMEOUT_S, after=mark2)
        log.settle()
        report["rate_limit_events"] = [r.brief() for r in log.received[mark:]]
        report["recovered_ms"] = round(1000 * (recovered.at - sent))
        stats = openhands.llm_stats()
        assert stats["outcomes"].get("rate_limited", 0) >= 1
        report["llm_stats"] = stats

        first_ids = log.ids()
        max_id = max(first_ids)
        report["first_connection"] = {"events": len(log.received), "duplicates": len(first_ids) - len(set(first_ids))}
    finally:
        log.close()

    # No gaps after dedupe: every stored event that is ever sent arrived at least once.
    stored = openhands.stored_events(cid)
    assert [e["id"] for e in stored] == list(range(len(stored)))
    sendable = {e["id"] for e in stored if e.get("action") != "null" and e.get("observation") != "null"}
    assert sendable - set(first_ids) == set(), "gaps"
    assert max_id == stored[-1]["id"]

    # 3. Reconnect replay: exact, checked against the stored events.
    user_msg = next(e["id"] for e in stored if e.get("source") == "user" and e.get("action") == "message")
    report["replay"] = {}
    for latest in (user_msg, max_id, -1):
        again = SocketLog(openhands.url, cid, latest_event_id=latest)
        try:
            again.settle(quiet=1.0)
            got = again.ids()
            expected = expected_replay(stored, latest)
            assert got == expected, (latest, got, expected)
            assert all(isinstance(r.id, int) for r in again.received)  # no status updates on a replay
            report["replay"][str(latest)] = {"ids": got, "connect_ms": round(1000 * (again.connected - again.started))}
        finally:
            again.close()
    last: Received | None = None
    for e in stored:
        if e.get("observation") == "agent_state_changed":
            last = Received(0.0, e)
    assert last is not None and last.state == "finished"

    report["stored"] = [Received(0.0, e).brief() for e in stored]
    (artifacts_dir / "real_openhands.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


@pytest.mark.timeout(360)  # includes the fixture (install + start) when run alone
def test_litellm_and_openai_read_the_mock(openhands: Server) -> None:
    """The mock's JSON and SSE tool calls as litellm 1.80 and the openai SDK (OpenHands' own venv) parse them."""
    requests.post(f"{openhands.llm_url}/faults", json={"every": 4}, timeout=5)  # the 4th agent call: 429
    before = openhands.llm_stats()["calls"]
    try:
        probe = Path(__file__).with_name("litellm_probe.py")
        argv = [str(openhands.venv_python), str(probe), openhands.llm_url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False, cwd=probe.parent)
    finally:
        requests.post(f"{openhands.llm_url}/faults", json={}, timeout=5)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    bash = {"command": BASH_COMMAND, "security_risk": "LOW"}
    assert got["litellm"] == ["execute_bash", bash]
    assert got["litellm_stream"][:2] == ["execute_bash", bash] and got["litellm_stream"][2] > 0
    assert got["openai_stream"] == ["finish", {"message": "Hello from the mock LLM."}]
    assert got["openai_429"] == [429, "1"]
    assert openhands.llm_stats()["calls"] - before == 4
