"""`V1Conversation`: one OpenHands V1 conversation over `loadtest.ws.WebSocket` and REST (gevent, no Locust).

The same methods as V0's `Conversation`: `create` (or join by id), `connect` (upgrade start → the first
snapshot, ``sync`` on the session socket), `send_message` → `Turn`, `wait`, `drop`, `reconnect` (paced as V0's:
`loadtest.openhands.v1.reconnect`), `settle` (the REST gap audit) and `close`. Every TCP connection it opens
to the server for a connect (the create, ``events/search`` pages, the upgrade) takes a slot of its
`ConnectPacer` first (`loadtest.openhands.pacing`). The per-frame work runs in the connection's reader greenlet
(`V1Frames`): classification, integrity, turns; no lock is needed (gevent switches only on I/O).
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.event

import contextlib
import random
import time
from typing import Any

from loadtest.errors import LoadtestError
from loadtest.openhands.config import ConnectResult, ReadyResult, ReconnectResult
from loadtest.openhands.deadlines import DEADLINES
from loadtest.openhands.errors import target_of
from loadtest.openhands.pacing import ConnectPacer, backoff_delay
from loadtest.openhands.rest import RestClient, RestResult
from loadtest.openhands.v1 import resume, wire
from loadtest.openhands.v1.audit import audit_gaps, audit_query, read_pages
from loadtest.openhands.v1.config import V1Config, signal_for_close, signal_for_rest
from loadtest.openhands.v1.frames import V1Counts, V1Frames
from loadtest.openhands.v1.listener import V1Listener
from loadtest.openhands.v1.reconnect import describe_v1, reconnect
from loadtest.openhands.v1.turns import REJECTED, Turn
from loadtest.ws import HandshakeRejected, WebSocket, WsClosed
from loadtest.ws.errors import ConnectTimeout

__all__ = ["V1Conversation", "V1CreateError", "V1NotConnected", "V1Refused"]

_NULL = V1Listener()
_JITTER = random.Random()
_PACED = frozenset({"create", "search"})  # REST calls a (re)connect makes: each takes a pacer slot
_REFUSALS = {
    4001: "authentication failed: check the session API key (--session-api-key) and --key-via",
    4004: "conversation not found: check --conversation-ids, or let loadtest create the conversations",
    1013: "too many sockets on this conversation (48 on the real server): spread users over more conversations",
}


class V1Refused(WsClosed):
    """The server accepted the upgrade, then closed the socket before its first snapshot (4001, 4004, 1013)."""

    def __str__(self) -> str:
        why = _REFUSALS.get(self.code, "closed before the first snapshot: see the server's log")
        return f"V1 socket closed by the server with {self.code}: {why}"

    def __repr__(self) -> str:
        return f"V1Refused({self.code})"


class V1NotConnected(LoadtestError):
    """`send_message` on a conversation whose socket is not open: `connect` or `reconnect` first."""

    def __repr__(self) -> str:
        return "V1NotConnected()"


class V1CreateError(LoadtestError):
    """``POST /api/conversations`` failed; carries the `RestResult` (secrets redacted)."""

    def __init__(self, result: RestResult) -> None:
        self.result = result
        why = result.cause or f"HTTP {result.status}"
        super().__init__(f"create conversation failed: {why}; check --agent-settings and the server log")

    def __repr__(self) -> str:
        if not self.result.status:  # no answer: its cause, never status=0
            return f"V1CreateError({self.result.cause or 'no answer'!r})"
        return f"V1CreateError(status={self.result.status})"


class V1Conversation:
    """One V1 conversation: create or join, connect, send, observe, reconnect.

    Attributes:
        conversation_id: the id (None until created).
        frames: the per-connection state and the integrity counters (`V1Frames`).
        create_result: the REST result of the create, when this object created the conversation.
        last_close_code: the server's close code of the latest connection loss, if any.
        last_cause: why the latest create or connect failed, in a user's words (None after a success).
        pacer: the connection pacing of this conversation (`ConnectPacer`).
    """

    def __init__(
        self,
        cfg: V1Config,
        conversation_id: str | None = None,
        listener: V1Listener | None = None,
        rest: RestClient | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = cfg
        self.conversation_id = conversation_id
        self.listener = listener or _NULL
        self.rest = rest or RestClient(cfg.base_url, cfg.session_api_key, source_address=cfg.source_address)
        self.frames = V1Frames(self, cfg)
        self.create_result: RestResult | None = None
        self.last_close_code: int | None = None
        self.last_cause: str | None = None
        self._rng = rng or _JITTER
        self.pacer = ConnectPacer(cfg.backoff_initial, cfg.backoff_max, self._rng)
        self._ws: WebSocket | None = None
        self._generation = 0
        self._connects = 0
        self._closed = False
        self._lost_at: float | None = None
        self._ready: gevent.event.Event | None = None
        secrets = wire.secret_values(cfg.agent_settings)
        self._secrets = tuple([*secrets, cfg.session_api_key] if cfg.session_api_key else secrets)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"V1Conversation({self.conversation_id!r}, {self.cfg.socket}, {state})"

    @property
    def connected(self) -> bool:
        ws = self._ws
        return ws is not None and not ws.closed

    @property
    def turns_in_flight(self) -> int:
        return len(self.frames.book)

    # -- REST ------------------------------------------------------------------------------------

    def _slot(self, connect: bool) -> None:
        """Wait until this conversation may open a connection (the window; `connect`: the backoff too)."""
        pacer = self.pacer
        while (wait := pacer.delay(time.perf_counter(), connect)) > 0:
            gevent.sleep(wait)
        pacer.take(time.perf_counter())  # no yield between the check and the take

    def _rest(self, call: str, method: str, path: str, **kwargs: Any) -> RestResult:
        if call in _PACED:
            self._slot(connect=False)
        res = self.rest.request(method, path, **kwargs)
        if res.body is not None and not isinstance(res.body, (int, float)):
            res = res._replace(body=wire.redact(res.body, self._secrets))  # a server may echo the LLM key
        self.listener.on_rest(self, call, res)
        signal = signal_for_rest(res.status, res.body) or res.throttle
        if signal is not None:
            self.signal(signal)
        return res

    def create(self, initial_message: str | None = None) -> RestResult:
        """``POST /api/conversations`` with the agent settings; raises `V1CreateError` unless 200/201."""
        if self.cfg.agent_settings is None:
            raise ValueError("creating a V1 conversation needs agent settings (--agent-settings JSON|@FILE)")
        body = wire.create_body(
            self.cfg.agent_settings, self.cfg.working_dir, initial_message=initial_message, stream=self.cfg.stream
        )
        while (hold := self.pacer.retry_in(time.perf_counter())) > 0:  # the backoff; the request takes its slot
            gevent.sleep(hold)
        res = self._rest("create", "POST", wire.CREATE_PATH, json=body)
        self.create_result = res
        cid = res.body.get("id") if isinstance(res.body, dict) else None
        if not res.ok or not isinstance(cid, str):
            self.pacer.failed(time.perf_counter(), res.retry_after)
            self.last_cause = res.cause or "the create answer had no id"
            raise V1CreateError(res)
        self.conversation_id = cid
        return res

    def search(self, query: dict[str, str]) -> RestResult:
        """One ``GET …/events/search`` page."""
        return self._rest("search", "GET", wire.search_path(str(self.conversation_id)), params=query)

    # -- connect -----------------------------------------------------------------------------------

    def _query(self) -> tuple[dict[str, str], str]:
        """The resume query of the next connect and its resend mode (``since``/``all``/``none``)."""
        cfg, fr = self.cfg, self.frames
        first = self._connects == 0
        if cfg.socket == "session":
            if first:
                mode = "none" if self.create_result is not None else str(cfg.first_resend)
                return resume.session_query(-1 if mode == "all" else None), mode
            if cfg.strategy is resume.Strategy.SDK:
                return resume.session_query(None), "none"
            return resume.session_query(fr.seq.after_seq), "since"
        if first:
            mode = "none" if self.create_result is not None else str(cfg.first_resend)  # ours and new: empty
            return resume.events_query(mode), mode
        if cfg.strategy is resume.Strategy.SDK:
            return resume.events_query("none"), "none"
        if cfg.strategy is resume.Strategy.FRONTEND:
            res = self.search(resume.frontend_rest_query())
            items = res.body.get("items") if res.ok and isinstance(res.body, dict) else None
            if isinstance(items, list):
                self.frames.fill(items)
        ts = fr.ids.newest_ts
        mode = "since" if ts is not None else "all"
        return resume.events_query(mode, ts), mode

    def connect(self) -> ConnectResult:
        """Create the conversation if needed, open the socket and wait for its first snapshot (``sync``).

        Raises:
            HandshakeRejected: the upgrade was refused (403: a wrong key or a bad query; 429).
            V1Refused: closed before the snapshot (4001 auth, 4004 unknown conversation, 1013 socket cap).
            ConnectTimeout: ``transport``, or ``snapshot`` (no first snapshot within ``connect_timeout``).
            TransportError, V1CreateError: as the server answered.
        """
        if self._closed:
            raise RuntimeError("V1Conversation is closed")
        if self.connected:
            raise RuntimeError("V1Conversation is already connected")
        if self.conversation_id is None:
            self.create()
        cfg = self.cfg
        query, mode = self._query()
        headers: dict[str, str] = {}
        key = cfg.session_api_key
        if key is not None and cfg.key_via == "header":
            headers["X-Session-API-Key"] = key
        elif key is not None and cfg.key_via == "query":
            query["session_api_key"] = key
        url = cfg.ws_base + wire.socket_path(str(self.conversation_id), cfg.socket)
        self._generation += 1
        gen = self._generation
        self._slot(connect=True)
        started = time.perf_counter()
        try:
            ws = WebSocket.open(
                url,
                query=query,
                headers=headers,
                timeout=cfg.connect_timeout,
                deflate=cfg.deflate,
                source_address=cfg.source_address,
            )
        except HandshakeRejected as exc:
            self._failed(exc, exc.retry_after)
            if exc.status in (403, 429):
                self.signal(f"handshake_{exc.status}")
            raise
        except (OSError, LoadtestError) as exc:  # TransportError, ConnectTimeout; OSError: a bind failed
            self._failed(exc)
            raise
        self._connects += 1
        ready = self._ready = gevent.event.Event()
        self.frames.begin(started, mode, ready)
        self._ws = ws
        self.last_close_code = None
        ws.start(
            self.frames.handler(gen),
            lambda reason, error: self._on_close(gen, reason, error),
        )
        if key is not None and cfg.key_via == "first-frame":
            with contextlib.suppress(OSError):  # closed at once: the wait below sees the close and names it
                ws.send_text(wire.auth_frame(key))
        ready.wait(max(0.0, started + cfg.connect_timeout - time.perf_counter()))
        snapshot_at = self.frames.connected_at
        if snapshot_at is None:
            code = self.last_close_code
            failure: LoadtestError
            if code is not None:
                failure = V1Refused(code)
            elif ws.closed:
                failure = WsClosed(1006, "closed before the first snapshot")
            else:
                self.frames.missing_snapshot()
                ws.abort()
                failure = ConnectTimeout("snapshot")
            self._failed(failure)
            raise failure
        self.pacer.connected(snapshot_at)
        self.last_cause = None
        self._lost_at = None
        self.frames.start_quiet_watch(gen, lambda: self._generation)
        if mode == "none" and self._connects > 1 and cfg.socket == "events":
            self.frames.reconcile(self.search)  # the SDK strategy; on the session socket it is live only
        return ConnectResult(
            duration_ms=(snapshot_at - started) * 1000.0,
            replayed_events=self.frames.replayed_before_ready,
            replay_bytes=self.frames.replay_bytes_before_ready,
            started_at=started,
            connected_at=snapshot_at,
        )

    def _failed(self, exc: BaseException, retry_after: float | None = None) -> None:
        """A connect failed: the next one waits the backoff; `last_cause` says why."""
        self.pacer.failed(time.perf_counter(), retry_after)
        self.last_cause = describe_v1(exc, target_of(self.cfg.ws_base), self.cfg.connect_timeout)

    def _on_close(self, gen: int, reason: str, error: BaseException | None) -> None:
        if gen != self._generation:
            return
        self.pacer.lost(time.perf_counter())  # lost before STABLE_CONNECTION: counts as a failed connect
        self.listener.on_disconnect(self, reason)
        if isinstance(error, WsClosed):
            self.last_close_code = error.code
            self.signal(signal_for_close(error.code))
        if self._lost_at is None:
            self._lost_at = time.perf_counter()
        if self._ready is not None:
            self._ready.set()
        self.frames.wake_all()

    def signal(self, name: str) -> None:
        self.listener.on_signal(self, name)

    # -- turns -------------------------------------------------------------------------------------

    def send_message(
        self, text: str, intended_at: float | None = None, wait: bool = True, timeout: float | None = None
    ) -> Turn:
        """Send a user message (socket frame or REST ``run: true``) and start a `Turn`.

        Raises:
            V1NotConnected: the socket is not open (nothing was sent).
        """
        ws = self._ws
        if ws is None or ws.closed:
            raise V1NotConnected("the V1 socket is not open: connect() or reconnect() first")
        book = self.frames.book
        now = time.perf_counter()
        if book.overdue(now, self.cfg.turn_timeout):  # nothing to end on most sends: no list built then
            for expired in book.expire(now, self.cfg.turn_timeout):
                self.listener.on_turn(self, expired)
        turn = Turn(sent_at=time.perf_counter(), intended_at=intended_at, text=text)
        book.start(turn)
        if self.cfg.send_via == "socket":
            frame = wire.message_frame(text)
            turn.action_bytes = len(frame)
            turn.sent_at = time.perf_counter()
            try:
                ws.send_text(frame)
            except OSError as exc:
                book.abandon(turn)
                raise V1NotConnected("the V1 socket broke while sending: reconnect() first") from exc
        else:
            body = wire.send_body(text)
            turn.sent_at = time.perf_counter()
            res = self._rest("send", "POST", wire.events_path(str(self.conversation_id)), json=body)
            turn.action_bytes = len(str(body))
            if res.status == 429 and signal_for_rest(res.status, res.body) == "run_limit":
                book.run_refused(turn)
            elif not res.ok:
                book.abandon(turn)
                turn.end_state, turn.error_code = REJECTED, f"http_{res.status}"
                self.listener.on_turn(self, turn)
        if wait and turn.end_state is None:
            self.wait(turn, timeout)
        return turn

    def retry_run(self, turn: Turn) -> RestResult:
        """``POST …/run`` for a turn refused by the run limit (the message is stored: never resent)."""
        res = self._rest("run", "POST", wire.run_path(str(self.conversation_id)))
        if res.ok or res.status == 409:  # 409: a run is going on; the stored message joins it
            self.frames.book.run_retried(turn)
        return res

    def wait(self, turn: Turn, timeout: float | None = None) -> Turn:
        """Wait for `turn` to end, at most `timeout` seconds from its send (default ``turn_timeout``), retrying
        ``POST …/run`` with backoff while the run limit holds it. Returns early (end state None) on a drop."""
        span = timeout if timeout is not None else self.cfg.turn_timeout
        limit = turn.sent_at + span
        retries = 0
        while turn.end_state is None:
            if not self.connected:
                return turn
            now = time.perf_counter()
            if limit <= now:
                if self.frames.book.abandon(turn):
                    self.listener.on_turn(self, turn)
                return turn
            if turn.needs_run:
                retries += 1
                pause = backoff_delay(retries, self.cfg.run_retry_initial, self.cfg.run_retry_max, None, self._rng)
                gevent.sleep(min(pause, max(0.0, limit - now)))
                if turn.needs_run and turn.end_state is None and time.perf_counter() < limit:
                    self.retry_run(turn)
                continue
            waiter = turn.waiter
            if waiter is None:
                waiter = turn.waiter = gevent.event.Event()
            waiter.clear()
            DEADLINES.add(waiter, limit, span)
            try:
                waiter.wait()
            finally:
                DEADLINES.discard(waiter)
        return turn

    # -- drop / reconnect / audit / close ------------------------------------------------------------

    def drop(self, abrupt: bool = True) -> None:
        """Lose the connection on purpose: TCP reset (default) or a clean close 1000 (reported to the listener
        as ``client_abort`` / ``client``, as V0's client does)."""
        ws = self._ws
        if ws is None:
            return
        self._generation += 1  # the reader's late reports of this connection are ignored
        self._lost_at = time.perf_counter()
        self.pacer.lost(self._lost_at, own=True)  # says nothing about the server
        if abrupt:
            ws.abort()
        else:
            ws.close(1000)
        self.listener.on_disconnect(self, "client_abort" if abrupt else "client")
        self.frames.wake_all()

    def reconnect(self, max_attempts: int | None = None, deadline: float | None = None) -> ReconnectResult:
        """Connect again (resume per ``strategy``), paced as V0's (`loadtest.openhands.v1.reconnect`): immediate
        after a stable connection's loss, else the conversation's backoff, equal jitter over a doubling ceiling
        (at least 0.5 s, never shorter than a refusal's ``Retry-After``); audits the gaps after it."""
        return reconnect(self, max_attempts, deadline)

    def _audit_after_replay(self) -> None:
        self.frames.wait_quiet(self.cfg.connect_timeout)
        if self.frames.book.inflight:
            return  # not a quiet point: the next reconnect or settle() audits
        self.settle(final=False)

    def settle(self, final: bool = True, timeout: float = 30.0) -> int:
        """Audit gaps now (REST ``events/search``, paced): stored events the socket never delivered. On the
        session socket, count the open seq holes. Returns the gaps added."""
        if self.cfg.socket == "session":
            n = self.frames.seq.settle()
        elif self.conversation_id is None:
            return 0
        else:
            cfg = self.cfg
            listing = read_pages(
                self.search, audit_query(self.frames.ids.floor), cfg.audit_max_pages, cfg.audit_rate, timeout
            )
            n = audit_gaps(self.frames.ids, listing, final)
        if n:
            self.listener.on_integrity(self, "gap", n)
        return n

    def close(self) -> None:
        """Close the socket cleanly (1000)."""
        self._closed = True
        ws = self._ws
        if ws is not None and not ws.closed:
            self._generation += 1
            ws.close(1000)
            self.listener.on_disconnect(self, "client")

    # -- the rest of the harness's conversation contract (`loadtest.openhands.contract`) ------------------

    @property
    def integrity(self) -> V1Counts:
        """Event and id counters now (`V1Counts`)."""
        return self.frames.counts()

    @property
    def protocol_errors(self) -> dict[str, int]:
        """Frames of the current (or last) connection that were not JSON text, as ``{"not_json": n}``."""
        n = self.frames.bad_frames_now
        return {"not_json": n} if n else {}

    def wait_ready(self, timeout: float | None = None) -> ReadyResult:
        """Nothing to poll (outcome ``unsupported``: connect at once): an agent server's conversation has no
        starting state to wait for; `connect` waits for the socket's first snapshot."""
        return ReadyResult(ok=False, ready_ms=None, polls=0, status=None, runtime_status=None, outcome="unsupported")
