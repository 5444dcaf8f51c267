"""`loadtest serve --api v1|both`: the listening line, and V0 and V1 side by side on one port."""

from __future__ import annotations

import subprocess
import sys

import requests
import socketio

from tests.server.v1.support import HEADERS, KEY, Socket, create, handshake_status, is_end, message, socket_url
from tests.support.procs import ROOT, ReferenceServer


def test_serve_api_v1_prints_the_listening_line_and_speaks_v1() -> None:
    with ReferenceServer("--api", "v1", "--session-api-key", KEY, "--event-delay-ms", "1") as srv:
        assert srv.lines[0].startswith("loadtest server listening on http://127.0.0.1:")
        cid = create(srv.url)
        assert requests.get(f"{srv.url}/socket.io/?EIO=4&transport=polling", timeout=5).status_code == 404
        sock = Socket.open(srv.url, "events", cid)
        assert sock.recv()["key"] == "full_state"
        sock.close()


def test_both_apis_on_one_port() -> None:
    with ReferenceServer("--api", "both", "--event-delay-ms", "1", "--script", "finish") as srv:
        v0 = requests.post(f"{srv.url}/api/conversations", json={}, timeout=5).json()
        assert v0["status"] == "ok" and len(v0["conversation_id"]) == 32
        assert (
            requests.get(f"{srv.url}/api/conversations/{v0['conversation_id']}", timeout=5).json()[
                "conversation_version"
            ]
            == "V0"
        )
        client = socketio.SimpleClient()
        client.connect(f"{srv.url}?conversation_id={v0['conversation_id']}", transports=["websocket"], wait_timeout=5)
        name, payload = client.receive(timeout=5)
        assert name == "oh_event" and isinstance(payload["id"], int)
        client.disconnect()
        cid = create(srv.url)  # no key configured: V1 needs none
        assert requests.get(f"{srv.url}/api/conversations/{cid}", timeout=5).json()["execution_status"] == "idle"
        sock = Socket.open(srv.url, "events", cid, via="none")
        sock.recv()
        sock.send(message("hi"))
        assert is_end(sock.until(is_end)[-1])
        sock.close()
        assert requests.get(f"{srv.url}/ready", timeout=5).status_code == 200
        text = requests.get(f"{srv.url}/metrics", timeout=5).text
        assert "loadtest_v1_conversations 1" in text and 'loadtest_faults_total{kind="snapshot_drop"} 0' in text


def test_default_v0_serves_no_v1() -> None:
    with ReferenceServer("--event-delay-ms", "1") as srv:
        assert handshake_status(socket_url(srv.url, "events", "0" * 8 + "-0000-4000-8000-" + "0" * 12)) == 403
        body = {"agent": {"llm": {"model": "m"}}, "workspace": {"working_dir": "/w"}}
        assert requests.post(f"{srv.url}/api/conversations", json=body, headers=HEADERS, timeout=5).status_code == 422
        assert "loadtest_v1_" not in requests.get(f"{srv.url}/metrics", timeout=5).text


def test_bad_api_value_names_the_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", "serve", "--api", "v2"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--api" in done.stderr and "v1" in done.stderr
