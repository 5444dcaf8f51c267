"""The plain WebSocket peer (tests/peers/ws_server.py, the `websockets` package) in a subprocess."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.support.procs import ROOT, PeerProcess


@pytest.fixture(scope="module")
def ws_peer() -> Iterator[PeerProcess]:
    with PeerProcess([sys.executable, str(ROOT / "tests" / "peers" / "ws_server.py")]) as peer:
        yield peer
