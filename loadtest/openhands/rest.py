"""The few OpenHands REST calls a load test needs, each returning its status and timing (`RestResult`).

Every call is classified: a 429 is throttle ``http_429`` with its ``Retry-After``; a successful call that
took at least ``delayed_ms`` (OpenHands' limiter *sleeps* 1 s before serving requests 11–20 of a second)
is throttle ``http_delayed`` — unless this process's own gevent loop lag across the call accounts for the
delay (`classify_answer`): then the generator, not the server, was slow, and the result says
``slow_generator`` instead. All `RestClient`s of a process share one `requests.Session` (one
connection pool per host), so 10,000 conversations do not mean 10,000 pools. The session API key travels
in the ``X-Session-API-Key`` header and never appears in a repr or a result.
"""

from __future__ import annotations

import http.cookiejar
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import requests
import requests.adapters
import urllib3
import urllib3.connection

from loadtest.openhands import looplag
from loadtest.openhands.errors import describe_exception, describe_status, target_of
from loadtest.ws.upgrade import parse_retry_after

__all__ = [
    "DEFAULT_SETTINGS",
    "SETTINGS_NOT_FOUND",
    "SLOW_GENERATOR",
    "RestClient",
    "RestResult",
    "classify_answer",
    "parse_retry_after",
    "shared_session",
]

SETTINGS_NOT_FOUND = "CONFIGURATION$SETTINGS_NOT_FOUND"

#: Settings seeded when the server has none (OpenHands refuses to create conversations without them).
#: The LLM values are placeholders; pass real ones (e.g. a mock LLM's URL) to `RestClient(settings=...)`.
DEFAULT_SETTINGS: dict[str, Any] = {
    "llm_model": "openai/mock-model",
    "llm_api_key": "sk-mock",
    "llm_base_url": "http://127.0.0.1:4010/v1",
    "agent": "CodeActAgent",
    "language": "en",
    "confirmation_mode": False,
}

_BODY_TEXT_MAX = 4096
_HEADERS: dict[str, str] = {"Accept": "application/json"}  # shared, never mutated
_POOL_MAXSIZE = 512
_shared: dict[str | None, requests.Session] = {}


class _Gate(threading.local):
    """The connection gate of the request this greenlet is making (greenlet-local under gevent)."""

    gate: Callable[[], object] | None = None
    waited_s: float = 0.0


_gate = _Gate()


def _open_gated(new_conn: Callable[[], socket.socket]) -> socket.socket:
    """Open a TCP connection, first taking a slot from the requesting conversation's pacer (if any)."""
    gate = _gate.gate
    if gate is not None:
        start = time.perf_counter()
        gate()
        _gate.waited_s += time.perf_counter() - start
    return new_conn()


class _GatedConnection(urllib3.connection.HTTPConnection):
    """A pooled connection that asks the requesting conversation's pacer before it opens its socket."""

    def _new_conn(self) -> socket.socket:
        return _open_gated(super()._new_conn)


class _GatedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _open_gated(super()._new_conn)


class _GatedPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GatedConnection


class _GatedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GatedHTTPSConnection


class _Adapter(requests.adapters.HTTPAdapter):
    """Connections paced per conversation (only a new TCP connection takes a slot, a reused one does not),
    optionally bound to one local address before they connect."""

    def __init__(self, source_address: str | None, **kwargs: Any) -> None:
        self._source = None if source_address is None else (source_address, 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._source is not None:
            kwargs["source_address"] = self._source
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GatedPool, "https": _GatedHTTPSPool}


def new_session(source_address: str | None = None) -> requests.Session:
    """A session whose connections are paced per conversation (`RestClient.paced`) and never store cookies.

    Args:
        source_address: local IP address every connection binds before connecting (None: the default),
            so a per-client-IP limiter on the server sees each address as its own client.
    """
    session = requests.Session()
    adapter = _Adapter(source_address, pool_connections=16, pool_maxsize=_POOL_MAXSIZE, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.trust_env = False
    return session


def shared_session(source_address: str | None = None) -> requests.Session:
    """The process-wide `new_session` for one local address: one pool per host for every conversation."""
    session = _shared.get(source_address)
    if session is None:
        session = _shared[source_address] = new_session(source_address)
    return session


class RestResult(NamedTuple):
    """One REST call.

    Attributes:
        status: HTTP status, or 0 when no response came (connection error, timeout).
        elapsed_ms: request start to full response, from `time.perf_counter`.
        body: parsed JSON (a ``session_api_key`` in it redacted), else text (truncated to 4 KiB); for status 0
            the exception's class name.
        retry_after: seconds from ``Retry-After``, or None.
        throttle: ``"http_429"``, ``"http_delayed"`` or None.
        ok: 2xx.
        slow_generator: at least ``delayed_ms`` slow, but this process's loop lag across the call accounts for
            the delay (`classify_answer`): not a throttle signal.
        cause: for a failed call, what happened in words a user can act on (stable: a route template, no
            ids), e.g. ``connect refused (127.0.0.1:9)`` or ``HTTP 404 on POST /api/conversations (...)``.
    """

    status: int
    elapsed_ms: float
    body: Any
    retry_after: float | None
    throttle: str | None
    ok: bool
    slow_generator: bool = False
    cause: str | None = None


SLOW_GENERATOR = "slow_generator"


def classify_answer(status: int, elapsed_ms: float, delayed_ms: float, lag_ms: float | None = None) -> str | None:
    """What a REST answer says about the server: ``"http_429"``, ``"http_delayed"``, `SLOW_GENERATOR` or None.

    A 2xx at least ``delayed_ms`` slow is the limiter's sleep (``http_delayed``) only when the server's share of
    the time reaches ``delayed_ms`` too. ``lag_ms``, the generator's own loop lag measured across the call, is an
    upper bound on the generator's share, so when ``elapsed_ms - lag_ms`` stays under ``delayed_ms`` the generator
    alone can explain the delay and the answer is `SLOW_GENERATOR`. ``lag_ms`` None (not measured): as before.
    """
    if status == 429:
        return "http_429"
    if not 200 <= status < 300 or elapsed_ms < delayed_ms:
        return None
    if lag_ms is not None and elapsed_ms - lag_ms < delayed_ms:
        return SLOW_GENERATOR
    return "http_delayed"


class RestClient:
    """REST calls against one OpenHands-compatible server."""

    def __init__(
        self,
        base_url: str,
        session_api_key: str | None = None,
        *,
        delayed_ms: float = 900.0,
        timeout: float = 30.0,
        settings: dict[str, Any] | None = None,
        session: requests.Session | None = None,
        source_address: str | None = None,
    ) -> None:
        """Args:
        base_url: ``http://host:port`` (a trailing slash is ignored).
        session_api_key: sent as ``X-Session-API-Key`` when set (secret: never shown).
        delayed_ms: a successful call at least this slow is throttle ``http_delayed`` (unless the loop lag
            across it accounts for the delay: `classify_answer`).
        timeout: seconds per request (connect and read).
        settings: body of ``POST /api/settings`` when the server asks for settings (default `DEFAULT_SETTINGS`).
        session: a `requests.Session` to use instead of the process-wide `shared_session()`.
        source_address: local IP address to send from (the process-wide session of that address); ignored
            when `session` is given.
        """
        if delayed_ms <= 0:
            raise ValueError(f"delayed_ms must be > 0, got {delayed_ms!r}")
        self.base_url = base_url.rstrip("/")
        self.delayed_ms = float(delayed_ms)
        self.timeout = float(timeout)
        self._settings = settings  # None: DEFAULT_SETTINGS (not copied: a client per conversation stays small)
        self._session = session if session is not None else shared_session(source_address)
        self._headers = _HEADERS
        if session_api_key is not None:
            self._headers = {**_HEADERS, "X-Session-API-Key": session_api_key}
        self._target = target_of(self.base_url)
        self._gate: Callable[[], object] | None = None

    def paced(self, gate: Callable[[], object]) -> RestClient:
        """A copy of this client (same pool, key and settings) that calls `gate` before every request.

        A `Conversation` passes its connection pacer here. Only a request that opens a new TCP connection
        (none pooled, or the server closed it) calls `gate`, right before the connect; the time it waits
        there is not part of the call's `elapsed_ms`.
        """
        copy = object.__new__(RestClient)
        copy.__dict__.update(self.__dict__)
        copy._gate = gate
        return copy

    def __repr__(self) -> str:
        key = "<redacted>" if "X-Session-API-Key" in self._headers else "None"
        return f"RestClient({self.base_url!r}, session_api_key={key})"

    # -- the calls -------------------------------------------------------------------------------

    def create_conversation(self, initial_user_msg: str | None = None, **fields: Any) -> RestResult:
        """``POST /api/conversations``; seeds settings and retries once if the server has none.

        Args:
            initial_user_msg: the first user message, run at once by the agent.
            fields: other `InitSessionRequest` fields (``repository``, ``conversation_instructions``...).
        """
        body = dict(fields)
        if initial_user_msg is not None:
            body["initial_user_msg"] = initial_user_msg
        res = self.request("POST", "/api/conversations", json=body)
        if res.status == 400 and _needs_settings(res.body):
            seeded = self.seed_settings()
            if not seeded.ok:
                return seeded
            res = self.request("POST", "/api/conversations", json=body)
        return res

    def seed_settings(self, settings: dict[str, Any] | None = None) -> RestResult:
        """``POST /api/settings`` with `settings` (default: the client's)."""
        body = settings if settings is not None else self._settings if self._settings is not None else DEFAULT_SETTINGS
        return self.request("POST", "/api/settings", json=body)

    def get_conversation(self, conversation_id: str) -> RestResult:
        """``GET /api/conversations/{id}`` (body: ConversationInfo or null)."""
        return self.request("GET", f"/api/conversations/{conversation_id}", route="/api/conversations/{id}")

    def delete_conversation(self, conversation_id: str) -> RestResult:
        """``DELETE /api/conversations/{id}``."""
        return self.request("DELETE", f"/api/conversations/{conversation_id}", route="/api/conversations/{id}")

    def events(
        self, conversation_id: str, start_id: int = 0, limit: int = 100, end_id: int | None = None
    ) -> RestResult:
        """``GET /api/conversations/{id}/events`` (body ``{"events": [...], "has_more": bool}``).

        Args:
            start_id: first id wanted.
            limit: 1..100 (the server refuses more).
            end_id: optional last id.
        """
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be 1..100 (OpenHands refuses more), got {limit!r}")
        params: dict[str, Any] = {"start_id": start_id, "limit": limit}
        if end_id is not None:
            params["end_id"] = end_id
        route = "/api/conversations/{id}/events"
        return self.request("GET", f"/api/conversations/{conversation_id}/events", route=route, params=params)

    def health(self) -> RestResult:
        """``GET /health``."""
        return self.request("GET", "/health")

    def alive(self) -> RestResult:
        """``GET /alive``."""
        return self.request("GET", "/alive")

    def server_info(self) -> RestResult:
        """``GET /server_info``."""
        return self.request("GET", "/server_info")

    # -- the one I/O path ------------------------------------------------------------------------

    def request(self, method: str, path: str, *, route: str | None = None, **kwargs: Any) -> RestResult:
        """One request, timed and classified; never raises for HTTP or connection failures.

        Args:
            route: `path` with its ids replaced (``/api/conversations/{id}``), for the failure's cause.
        """
        url = self.base_url + path
        lag_before = looplag.lag_s()
        _gate.gate, _gate.waited_s = self._gate, 0.0
        start = time.perf_counter()
        try:
            resp = self._session.request(method, url, headers=self._headers, timeout=self.timeout, **kwargs)
            content = resp.content
        except requests.RequestException as exc:
            elapsed = (time.perf_counter() - start - _gate.waited_s) * 1000.0
            failed = describe_exception(exc, self._target, self.timeout)
            return RestResult(0, elapsed, type(exc).__name__, None, None, False, cause=failed)
        finally:
            _gate.gate = None
        elapsed = (time.perf_counter() - start - _gate.waited_s) * 1000.0
        status = resp.status_code
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        ok = 200 <= status < 300
        lag_after = looplag.lag_s()
        lag_ms = None if lag_before is None or lag_after is None else (lag_after - lag_before) * 1000.0
        kind = classify_answer(status, elapsed, self.delayed_ms, lag_ms)
        slow = kind == SLOW_GENERATOR
        throttle = None if slow else kind
        cause = None if ok else describe_status(status, method, route or path)
        return RestResult(status, elapsed, _decode_body(resp, content), retry_after, throttle, ok, slow, cause)


def _decode_body(resp: requests.Response, content: bytes) -> Any:
    if not content:
        return None
    if "json" in resp.headers.get("Content-Type", ""):
        try:
            body = resp.json()
        except ValueError:
            pass
        else:
            # ConversationInfo carries the runtime's session API key: never hand a secret to callers' logs.
            if isinstance(body, dict) and body.get("session_api_key"):
                body["session_api_key"] = "<redacted>"
            return body
    return content[:_BODY_TEXT_MAX].decode("utf-8", "replace")


def _needs_settings(body: Any) -> bool:
    if isinstance(body, dict):
        return body.get("msg_id") == SETTINGS_NOT_FOUND or body.get("message") == "Settings not found"
    return isinstance(body, str) and SETTINGS_NOT_FOUND in body
