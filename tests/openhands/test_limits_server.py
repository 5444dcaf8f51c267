"""Throttles, refusals and status signals against the reference server; settings seeding on a local stub."""

from __future__ import annotations

# isort: split

import gevent
import gevent.pool
import gevent.pywsgi

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from loadtest.openhands import Conversation, ConversationConfig, ConversationError, RestClient
from loadtest.sio.errors import ConnectRefused
from tests.openhands.recorder import Recorder
from tests.openhands.support import wait_until
from tests.support.procs import ReferenceServer

KEY = "s3cret-key-do-not-log"


def test_rest_429_and_delayed_match_the_server_limiter() -> None:
    """30 concurrent calls from one IP: 10 pass, the next 10 sleep 1 s (http_delayed), the rest get 429."""
    with ReferenceServer("--max-conversations", "0") as srv:
        rest = RestClient(srv.url)
        pool = gevent.pool.Pool(30)
        results = list(pool.imap_unordered(lambda _: rest.alive(), range(30)))
        metrics = srv.metrics()
    kinds = Counter(r.throttle for r in results)
    print("REST throttles:", dict(kinds))
    assert kinds["http_429"] == metrics['loadtest_throttles_total{kind="http_429"}'] >= 1
    assert kinds["http_delayed"] == metrics['loadtest_throttles_total{kind="http_delayed"}'] >= 1
    for r in results:
        if r.throttle == "http_429":
            assert (r.status, r.retry_after, r.ok) == (429, 1.0, False)
        elif r.throttle == "http_delayed":
            assert r.ok and r.elapsed_ms >= 900
        else:
            assert r.ok and r.status == 200 and r.elapsed_ms < 900 and r.body == {"status": "ok"}


def test_conversation_signals_rest_throttles() -> None:
    with ReferenceServer("--max-conversations", "0") as srv:
        rec = Recorder()
        convs = [Conversation(ConversationConfig(srv.url), listener=rec) for _ in range(25)]

        def create(conv: Conversation) -> int:
            try:
                conv.create()
            except ConversationError as exc:
                assert repr(exc) == "ConversationError(status=429)"
                return 429
            return 200

        statuses = Counter(gevent.pool.Pool(25).imap_unordered(create, convs))
        metrics = srv.metrics()
    assert statuses[429] == rec.signals["http_429"] == metrics['loadtest_throttles_total{kind="http_429"}'] >= 1
    assert rec.signals["http_delayed"] == metrics['loadtest_throttles_total{kind="http_delayed"}'] >= 1
    assert [c for c, _ in rec.rest] == ["create"] * 25


def test_refusals_and_the_key_stays_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with ReferenceServer("--session-api-key", KEY, "--max-conversations", "0") as srv:
        good = ConversationConfig(srv.url, session_api_key=KEY)
        # REST: the key travels as X-Session-API-Key.
        bad_rest = RestClient(srv.url, session_api_key="wrong")
        assert bad_rest.create_conversation().status == 401
        owner = Conversation(good)
        owner.connect()
        cid = owner.conversation_id
        assert cid is not None
        for key in ("wrong", None):
            rec = Recorder()
            conv = Conversation(ConversationConfig(srv.url, session_api_key=key), cid, listener=rec)
            with pytest.raises(ConnectRefused) as info:
                conv.connect()
            assert repr(info.value) == "ConnectRefused('invalid_session_api_key')"
            assert rec.signals == Counter({"connect_refused": 1})
        rec = Recorder()
        missing = Conversation(good, "", listener=rec)
        with pytest.raises(ConnectRefused) as info:
            missing.connect()
        assert info.value.message == "No conversation_id in query params"
        assert rec.signals["connect_refused"] == 1
        joined = Conversation(good, cid)
        assert joined.connect().replayed_events >= 1
        texts = [repr(good), repr(owner), repr(joined), repr(owner.rest), repr(info.value)]
        owner.close()
        joined.close()
        server_output = srv.output()
    assert all(KEY not in t for t in texts)
    assert KEY not in caplog.text
    assert KEY not in server_output


def test_too_many_conversations_signal() -> None:
    with ReferenceServer("--max-conversations", "1", "--no-http-limit") as srv:
        rec = Recorder()
        first = Conversation(ConversationConfig(srv.url), listener=rec)
        first.connect()
        second = Conversation(ConversationConfig(srv.url))
        second.connect()  # starting its agent loop evicts the first one
        assert wait_until(lambda: rec.signals["too_many_conversations"] == 1, timeout=10)
        assert rec.signals["status_error"] >= 1
        assert wait_until(lambda: not first.connected, timeout=10)
        assert rec.disconnects == ["server"] and rec.signals["server_disconnect"] == 1
        second.close()


@pytest.mark.parametrize(("mode", "end_state", "signal"), [("state", "rate_limited", "rate_limited_state"),
                                                           ("error", "error", "error_event")])  # fmt: skip
def test_action_limit_refusal_ends_the_refused_turn(mode: str, end_state: str, signal: str) -> None:
    opts = ("--action-rate", "1", "--action-limit-mode", mode, "--event-delay-ms", "5")
    with ReferenceServer(*opts, "--max-conversations", "0", "--no-http-limit") as srv:
        rec = Recorder()
        conv = Conversation(ConversationConfig(srv.url), listener=rec)
        conv.connect()
        accepted = conv.send_message("one", wait=False)
        refused = conv.send_message("two", wait=False)
        assert conv.wait(refused, 10).end_state == end_state
        assert refused.echo_at is None and refused.turn_ms is not None
        assert conv.wait(accepted, 10).end_state == "awaiting_user_input"
        assert rec.signals[signal] == 1
        assert set(rec.turns) == {accepted, refused}
        conv.close()


# -- settings seeding: OpenHands refuses to create conversations until settings exist (protocol doc §9) --


class SettingsStub:
    """A loopback WSGI app that answers like OpenHands before and after `POST /api/settings`."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] | None = None
        self.calls: list[str] = []

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        self.calls.append(f"{method} {path} key={environ.get('HTTP_X_SESSION_API_KEY')}")
        status, body = "404 Not Found", {"detail": "Not Found"}
        if (method, path) == ("POST", "/api/settings"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            self.settings = json.loads(environ["wsgi.input"].read(length))
            status, body = "200 OK", {"message": "Settings stored"}
        elif (method, path) == ("POST", "/api/conversations"):
            if self.settings is None:
                status = "400 Bad Request"
                body = {
                    "status": "error",
                    "message": "Settings not found",
                    "msg_id": "CONFIGURATION$SETTINGS_NOT_FOUND",
                }
            else:
                status, body = (
                    "200 OK",
                    {"status": "ok", "conversation_id": "a" * 32, "conversation_status": "STARTING"},
                )
        elif (method, path) == ("GET", "/api/conversations/" + "a" * 32):
            status, body = "200 OK", {"conversation_id": "a" * 32, "status": "RUNNING", "session_api_key": "rt-secret"}
        start(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


@pytest.fixture
def settings_stub() -> Iterator[tuple[str, SettingsStub]]:
    app = SettingsStub()
    server = gevent.pywsgi.WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.stop(timeout=5)


def test_create_seeds_settings_when_missing(settings_stub: tuple[str, SettingsStub]) -> None:
    url, app = settings_stub
    settings = {"llm_model": "openai/mock-model", "llm_api_key": "sk-mock", "llm_base_url": "http://127.0.0.1:9/v1"}
    rest = RestClient(url, session_api_key=KEY, settings=settings)
    res = rest.create_conversation()
    assert res.ok and res.body["conversation_id"] == "a" * 32
    assert app.settings == settings
    assert [c.split(" key=")[0] for c in app.calls] == [
        "POST /api/conversations",
        "POST /api/settings",
        "POST /api/conversations",
    ]
    assert all(c.endswith(f"key={KEY}") for c in app.calls)
    assert rest.create_conversation().ok and len(app.calls) == 4  # seeded once
    info = rest.get_conversation("a" * 32)
    assert info.body["session_api_key"] == "<redacted>" and "rt-secret" not in repr(info)


def test_rest_connection_error_is_a_result() -> None:
    rest = RestClient("http://127.0.0.1:9", timeout=2)
    res = rest.health()
    assert (res.status, res.ok, res.throttle) == (0, False, None)
    assert res.body == "ConnectionError"
    with pytest.raises(ValueError, match="limit"):
        rest.events("x", limit=101)
