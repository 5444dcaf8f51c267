"""The client needs no monkey-patching: a fresh, unpatched interpreter connects, calls, gets pings, disconnects."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.procs import ROOT, PeerProcess

SCRIPT = textwrap.dedent(
    """
    import sys
    import gevent.monkey
    from loadtest.sio import SocketIOClient

    assert not gevent.monkey.is_module_patched("socket") and not gevent.monkey.is_module_patched("threading")
    events = []
    client = SocketIOClient(on_event=lambda event, args, at, size: events.append(event))
    info = client.connect(sys.argv[1], query={"pre": "3"}, timeout=10)
    assert info.events_before_ack == 3, info
    assert client.call("echo", b"\\x00", {"k": 1}, timeout=5).args == [b"\\x00", {"k": 1}]
    gevent.sleep(2.5)
    assert client.counters.pings >= 2, client.counters
    client.disconnect()
    assert client.disconnect_reason == "client"
    print("OK", events)
    """
)


def test_client_runs_without_monkey_patching(pysio_server: PeerProcess) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, pysio_server.url], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK ['replay', 'replay', 'replay']")
