"""Malformed frames from the server: counted as protocol errors per kind, the connection closed (the
frame never half-applied), and the other users unaffected.

The peer (``tests/faults/peers/bad_server.py``, a raw stdlib server in its own process) sends one bad frame
per connection, chosen by the conversation id; one conversation gets no fault. The client closes on each
bad frame (reason ``protocol_error``), the harness counts ``errors.protocol_<kind>``, the user reconnects,
and the good conversation's turns all succeed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.harness.locustrun import run_locust
from tests.support.procs import ROOT, PeerProcess

pytestmark = pytest.mark.slow

PEER = ROOT / "tests" / "faults" / "peers" / "bad_server.py"
# conversation id → the client's ProtocolError kind
KINDS = {
    "bad_type": "bad_eio_type",
    "bad_json": "bad_json",
    "huge_ack": "ack_id_too_long",
    "binary": "unexpected_binary",
    "oversize": "frame_too_large",
}


def test_malformed_frames_counted_per_kind_and_other_users_unaffected(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join([*KINDS, "good"]) + "\n")
    folder = tmp_path / "m"
    with PeerProcess([sys.executable, str(PEER)]) as peer:
        r = run_locust(
            peer.url, folder, "--conversation-ids", str(ids), "--wait-ready", "off", "--think-time", "200ms",
            "--turn-timeout", "3s", "--exit-code-on-error", "0", "ChatUser", users=len(KINDS) + 1, run_time="6s",
        )  # fmt: skip
    # protocol errors are errors: the default errors.ratio<1% fails the run, naming them
    assert r.rc == 3, r.output[-3000:]
    assert r.run["verdict"] == "fail" and "errors.ratio<1% (measured " in r.run["verdict_reason"], r.run
    errors = r.total().group("errors")
    seen = {k.removeprefix("protocol_"): v for k, v in errors.items() if k.startswith("protocol_")}
    # one kind per faulty conversation, at least once each (every reconnect meets it again)
    assert set(seen) == set(KINDS.values()), (seen, errors)
    assert r.counter("disconnects.protocol_error") == sum(seen.values()), (r.total().group("disconnects"), seen)
    assert r.counter("reconnects") >= len(KINDS)
    # the good user, and the faulty ones after each reconnect, complete their turns
    assert r.counter("turns") >= 6 and r.counter("failures.turn") <= r.counter("disconnects.protocol_error")
    # visible in the report
    from loadtest.report import build_report

    build_report(folder)
    faults = json.loads((folder / "summary.json").read_text())["run"]["faults"]
    assert faults["protocol_errors"] == seen
    assert "Protocol errors from the server, by kind" in (folder / "summary.md").read_text()
