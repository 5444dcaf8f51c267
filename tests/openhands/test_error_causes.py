"""Failures read as causes a user can act on, over real loopback sockets: a closed port, a name that does not
resolve, a listener that never answers, a server that answers 404. Never ``status=0``; no client port, id or
time in a cause, so Locust's table (grouped by repr) keeps one row per cause."""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest

from loadtest.harness.failures import ConnectFailed, ReconnectFailed, RestFailed
from loadtest.openhands import Conversation, ConversationConfig, ConversationError, RestClient
from loadtest.sio.errors import SioError


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()  # nothing listens there now: the kernel refuses
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener that accepts (the kernel's backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def not_found_url() -> Iterator[str]:
    """An HTTP server that answers 404 to everything (not an OpenHands server)."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def do_POST(self) -> None:
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_connect_refused_names_the_target() -> None:
    port = _closed_port()
    url, cause = f"http://127.0.0.1:{port}", f"connect refused (127.0.0.1:{port})"
    res = RestClient(url).create_conversation()
    assert (res.status, res.ok, res.cause) == (0, False, cause)
    assert repr(RestFailed(res)) == f"RestFailed({cause!r})" and "status=0" not in repr(RestFailed(res))
    conv = Conversation(ConversationConfig(url))
    with pytest.raises(ConversationError, match="connect refused"):
        conv.connect()
    assert conv.last_cause == cause
    # the WebSocket of a joined conversation: the first connect, then a reconnect
    joined = Conversation(ConversationConfig(url), "c0ffee")
    with pytest.raises(SioError) as info:
        joined.connect()
    assert joined.last_cause == cause
    assert repr(ConnectFailed.of(info.value, joined.last_cause)) == f"ConnectFailed({cause!r})"
    rr = joined.reconnect(max_attempts=1, deadline=5)
    assert not rr.ok and rr.cause == cause and repr(ReconnectFailed.of(rr)) == f"ReconnectFailed({cause!r})"


def test_a_listener_that_never_answers_times_out(silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    res = RestClient(url, timeout=1.0).create_conversation()
    assert (res.status, res.cause) == (0, "timed out after 1 s")
    conv = Conversation(ConversationConfig(url, connect_timeout=1.0), "c0ffee")
    with pytest.raises(SioError):
        conv.connect()
    assert conv.last_cause == "timed out after 1 s (transport)"


def test_a_404_on_create_asks_whether_the_target_is_openhands(not_found_url: str) -> None:
    res = RestClient(not_found_url).create_conversation()
    cause = "HTTP 404 on POST /api/conversations (is --target an OpenHands server?)"
    assert (res.status, res.cause) == (404, cause)
    assert repr(RestFailed(res)) == f"RestFailed({cause!r})"
    events = RestClient(not_found_url).events("abc123", start_id=5)  # the id is not in the cause: one row
    assert events.cause == "HTTP 404 on GET /api/conversations/{id}/events (is --target an OpenHands server?)"
    conv = Conversation(ConversationConfig(not_found_url), "c0ffee")
    with pytest.raises(SioError):
        conv.connect()
    assert conv.last_cause == "HTTP 404 on the WebSocket upgrade (is --target an OpenHands server?)"


def test_older_form_never_shows_status_zero() -> None:
    assert repr(RestFailed(0)) == "RestFailed('no answer')"
    assert repr(RestFailed(429)) == "RestFailed(status=429)"


_DNS_PROBE = """
from loadtest.openhands import Conversation, ConversationConfig, RestClient
from loadtest.sio.errors import SioError
res = RestClient("http://oh.invalid:3000").create_conversation()
conv = Conversation(ConversationConfig("http://oh.invalid:3000"), "c0ffee")
try:
    conv.connect()
except SioError:
    pass
print(res.cause)
print(conv.last_cause)
"""


def test_a_name_that_does_not_resolve() -> None:
    """Run in a new, empty network namespace (`unshare -n`): the resolver's query has no route out, so nothing
    leaves the machine (this machine's resolver is not on loopback), and the lookup fails as it would for a
    name that does not exist."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare(1) to keep the DNS query off the network")
    probe = subprocess.run(
        [unshare, "-n", sys.executable, "-c", textwrap.dedent(_DNS_PROBE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0 and "unshare failed" in probe.stderr:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr.strip()[:200]}")
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.split("\n")[:2] == ["DNS lookup failed (oh.invalid)"] * 2, probe.stdout
