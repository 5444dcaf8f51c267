"""REST calls take a connection-pacing slot only when they open a new TCP connection (issue 12 item 5).

The pacer bounds TCP connections to the target; a request that reuses a pooled keep-alive connection
opens none, so it must not wait for (or use up) a slot, while one against a server that closes every
connection takes a slot each time. The time spent waiting for a slot is not part of the call's latency.
"""

from __future__ import annotations

import time

from loadtest.openhands import RestClient
from loadtest.openhands.rest import new_session
from tests.harness.scripted_http import ScriptedServer
from tests.support.procs import ReferenceServer


class CountingGate:
    def __init__(self, wait_s: float = 0.0) -> None:
        self.calls = 0
        self.wait_s = wait_s

    def __call__(self) -> None:
        self.calls += 1
        if self.wait_s:
            time.sleep(self.wait_s)


def test_reused_keep_alive_connection_takes_no_slot() -> None:
    with ReferenceServer("--no-http-limit") as server:
        gate = CountingGate()
        client = RestClient(server.url, session=new_session()).paced(gate)
        results = [client.alive() for _ in range(5)]
    assert all(r.ok for r in results), results
    assert gate.calls == 1  # one TCP connection, reused by the four later calls


def test_each_new_connection_takes_a_slot_and_the_wait_is_not_latency() -> None:
    with ScriptedServer() as server:  # HTTP/1.0: the server closes every connection after its answer
        gate = CountingGate(wait_s=0.3)
        client = RestClient(server.url, session=new_session()).paced(gate)
        results = [client.alive() for _ in range(3)]
    assert [r.status for r in results] == [404, 404, 404]
    assert gate.calls == 3
    assert all(r.elapsed_ms < 250.0 for r in results), [r.elapsed_ms for r in results]
    assert all(r.throttle is None for r in results)  # a paced wait is never read as the server's delay


def test_unpaced_client_never_calls_a_gate_left_by_a_paced_one() -> None:
    with ScriptedServer() as server:
        gate = CountingGate()
        session = new_session()
        RestClient(server.url, session=session).paced(gate).alive()
        RestClient(server.url, session=session).alive()
    assert gate.calls == 1
