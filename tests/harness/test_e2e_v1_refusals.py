"""A wrong session key ends a V1 run `error` (exit 1) with a reason naming the refusal, for each `--key-via`:
query and header are refused with HTTP 403 at the upgrade, a first frame with close 4001 after it; a wrong key
on the create is HTTP 401 on `POST /api/conversations`. Headless Locust against `loadtest serve --api v1
--session-api-key RIGHT`, joining a conversation created with the right key (so the socket is what refuses)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.harness.locustrun import locust_argv, read_folder, start_locust, wait_bounded
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow

RIGHT, WRONG = "right-key-0123", "wrong-key-4567"
AGENT = {"agent": {"llm": {"model": "loadtest/reference-agent"}}, "workspace": {"working_dir": "/tmp"}}
REFUSALS = {
    "query": "HTTP 403 on the WebSocket upgrade (check --session-api-key) on connect",
    "header": "HTTP 403 on the WebSocket upgrade (check --session-api-key) on connect",
    "first-frame": "V1 socket closed by the server with 4001: authentication failed",
}


def _create(url: str) -> str:
    req = urllib.request.Request(
        f"{url}/api/conversations",
        data=json.dumps(AGENT).encode(),
        headers={"X-Session-API-Key": RIGHT, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.loads(resp.read())["id"])


def _run(url: str, folder: Path, *args: str) -> tuple[int, str, dict[str, object]]:
    env = {"LOCUST_SESSION_API_KEY": WRONG, "LOCUST_AGENT_SETTINGS": json.dumps(AGENT)}
    proc = start_locust(locust_argv(url, folder, "--api", "v1", *args, "ChatUser", users=2, run_time="4s"), env)
    rc, out = wait_bounded(proc, 60.0)
    run, _ = read_folder(folder)
    return rc, out, run


@pytest.mark.parametrize("key_via", sorted(REFUSALS))
def test_wrong_key_on_the_socket_ends_the_run_error_naming_the_refusal(tmp_path: Path, key_via: str) -> None:
    with ReferenceServer("--api", "v1", "--session-api-key", RIGHT, "--max-runs", "0") as server:
        ids = tmp_path / "ids.txt"
        ids.write_text(_create(server.url) + "\n")
        rc, out, run = _run(server.url, tmp_path / "run", "--key-via", key_via, "--conversation-ids", str(ids))
    reason = str(run.get("verdict_reason"))
    assert rc == 1 and run.get("verdict") == "error", (rc, run.get("verdict"), out[-3000:])
    assert f"{server.url} answered but refused every attempt: {REFUSALS[key_via]}" in reason, reason
    assert WRONG not in out and RIGHT not in out


def test_wrong_key_on_create_ends_the_run_error_naming_the_401(tmp_path: Path) -> None:
    with ReferenceServer("--api", "v1", "--session-api-key", RIGHT, "--max-runs", "0") as server:
        rc, out, run = _run(server.url, tmp_path / "run")
    reason = str(run.get("verdict_reason"))
    assert rc == 1 and run.get("verdict") == "error", (rc, run.get("verdict"), out[-3000:])
    assert "answered but refused every attempt: HTTP 401 on POST /api/conversations" in reason, reason
