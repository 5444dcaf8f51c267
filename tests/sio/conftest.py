"""Peers for the client's interop tests: python-socketio and Node socket.io servers in subprocesses."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import ROOT, PeerProcess, node_script

PYSIO_PEER = ROOT / "tests" / "peers" / "pysio_server.py"


def pysio_peer(*options: str) -> PeerProcess:
    """Start tests/peers/pysio_server.py with the given options (the caller stops it)."""
    return PeerProcess([sys.executable, str(PYSIO_PEER), *options])


@pytest.fixture(scope="module")
def pysio_server() -> Iterator[PeerProcess]:
    """A plain python-socketio AsyncServer pinging every second (python-engineio truncates to whole seconds)."""
    with pysio_peer("--ping-interval", "1", "--ping-timeout", "2") as peer:
        yield peer


@pytest.fixture(scope="module")
def node_server(node_modules: Path) -> Iterator[PeerProcess]:
    """A Node socket.io 4.x server pinging every 300 ms (client ping timeout = 300 + 3000 ms)."""
    with node_script("sio_server.js", "--ping-interval", "300", "--ping-timeout", "3000") as peer:
        yield peer
