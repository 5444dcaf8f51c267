"""A bounded crowd: 100 conversations, each one python-socketio client doing one turn, all completed."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.server.peers import Peer, create
from tests.support.procs import ReferenceServer

CONVERSATIONS = 100


@pytest.mark.slow
def test_hundred_conversations_each_complete_a_turn() -> None:
    with ReferenceServer("--event-delay-ms", "5", "--max-conversations", "0", "--no-http-limit") as srv:
        cids = [create(srv.url) for _ in range(CONVERSATIONS)]
        done: dict[str, float] = {}
        errors: list[str] = []

        def one(cid: str) -> None:
            peer = Peer(srv.url)
            try:
                peer.connect(cid)
                sent = peer.send(f"hello {cid[:6]}")
                if peer.wait_state("awaiting_user_input", count=2, timeout=20):
                    done[cid] = time.perf_counter() - sent
                else:
                    errors.append(f"{cid}: states {peer.states()}")
            except Exception as exc:  # recorded, asserted below
                errors.append(f"{cid}: {exc!r}")
            finally:
                peer.close()

        started = time.monotonic()
        workers = []
        for cid in cids:  # greenlets under the test process's monkey-patching
            worker = threading.Thread(target=one, args=(cid,))
            worker.start()
            workers.append(worker)
            time.sleep(0.01)
        for worker in workers:
            worker.join(max(30 - (time.monotonic() - started), 0.1))
        assert not errors, errors[:5]
        assert len(done) == CONVERSATIONS
        table = requests.get(f"{srv.url}/debug/conversations", timeout=10).json()
        assert len(table) == CONVERSATIONS
        assert all(row["turns"] == 1 and row["agent_state"] == "awaiting_user_input" for row in table.values())
        metrics = srv.metrics()
        assert metrics["loadtest_connections_total"] == CONVERSATIONS
        assert metrics["loadtest_actions_received_total"] == CONVERSATIONS
        assert metrics["loadtest_conversations_created_total"] == CONVERSATIONS
        assert sum(v for k, v in metrics.items() if k.startswith("loadtest_bad_input_total")) == 0
