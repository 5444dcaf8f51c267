"""55 V1 users joining one conversation (`--conversation-ids` with one id) against the reference server's cap of 48
sockets a conversation: the timeline's ``throttled.socket_cap`` equals the 1013 closes the server counted, each
counted once although refused users retry, and the ``sockets`` gauge never passes the cap. Throttle signals
excuse their refused connects, so the default SLOs pass the run; a refusal in the seconds of the stop used to
read as an outage (the stopping users had left the gauges before closing their sockets)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.harness.locustrun import run_locust
from tests.support.procs import ReferenceServer

pytestmark = pytest.mark.slow

CAP, USERS = 48, 55
SERVER_COUNT = 'loadtest_throttles_total{kind="socket_cap"}'
CREATE_BODY = {"agent": {"llm": {"model": "loadtest/reference-agent"}, "tools": []}, "workspace": {"working_dir": "/w"}}


def create_conversation(url: str) -> str:
    resp = requests.post(f"{url}/api/conversations", json=CREATE_BODY, timeout=10)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_users_over_the_socket_cap_count_exactly_the_1013s_the_server_sent(tmp_path: Path) -> None:
    with ReferenceServer("--api", "v1", "--socket-cap", str(CAP)) as server:
        ids = tmp_path / "ids.txt"
        ids.write_text(create_conversation(server.url) + "\n")
        before = server.metrics()[SERVER_COUNT]
        r = run_locust(
            server.url, tmp_path / "run", "--api", "v1", "--conversation-ids", str(ids), "-r", "100",
            "--exit-code-on-error", "0", "IdleUser",
            users=USERS, run_time="5s", timeout=60.0,
        )  # fmt: skip
        sent = server.metrics()[SERVER_COUNT] - before  # read after Locust exited: every close it could see
        assert server.alive()
    assert r.lines, r.output[-3000:]
    counted = r.counter("throttled.socket_cap")
    # every refused user retries (paced, first within 0.5 s) while the 48 hold on: each retry is refused again
    assert sent >= 2 * (USERS - CAP), (sent, r.output[-3000:])
    assert counted == sent, (counted, sent)
    assert max(line["gauges"]["sockets"] for line in r.lines) <= CAP
    assert max(line["gauges"]["sockets"] for line in r.lines) == CAP  # the cap was reached, not just refused
    # a throttle signal, not a server error: each excuses its refused connect, so errors.ratio stays 0 and the
    # default SLOs pass the run (without --exit-code-on-error 0, Locust's rule exits 1 on its failure rows)
    assert r.counter("failures.connect") == counted, r.lines[-1]["counters"]
    slo = {s["expr"]: s for s in r.run["slo"]}
    assert slo["errors.ratio<1%"]["value"] == 0.0 and r.run["verdict"] == "pass", (r.run["verdict"], r.run["slo"])
    assert r.rc == 0, r.output[-3000:]
