"""`Conversation`: one OpenHands conversation over our Socket.IO client (gevent, no Locust).

Create over REST or join by id; connect with the query the OpenHands frontend sends (``latest_event_id`` =
the maximum id seen, ``conversation_id``, ``providers_set``, ``session_api_key``); classify and count every
``oh_event``; track ids (`Integrity`), audit holes over REST (`HoleAuditor`); time turns from the transport's
receive stamps (`TurnBook`); reconnect (`loadtest.openhands.reconnect`). Every connection it opens, REST or
WebSocket, takes a slot from its `ConnectPacer` first (at most 2 per second, connects after a backoff).

Everything per event happens in the connection's single reader greenlet (`_on_event`): a classification,
a few integer operations, listener calls. No lock is needed: gevent switches only on I/O.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.event

import logging
import random
import time
from typing import Any

from loadtest.openhands.audit import HoleAuditor
from loadtest.openhands.config import ConnectResult, ConversationConfig, ReadyResult, ReconnectResult
from loadtest.openhands.deadlines import DEADLINES
from loadtest.openhands.errors import ConversationError, describe_sio, retryable, target_of
from loadtest.openhands.events import EventKind, classify
from loadtest.openhands.frontend import connect_query, message_action
from loadtest.openhands.holes import settle
from loadtest.openhands.integrity import DUPLICATE, NEW, OUT_OF_ORDER, PHASE_LIVE, PHASE_REPLAY, RESET, Integrity
from loadtest.openhands.listener import ConversationListener, IntegrityKind
from loadtest.openhands.pacing import ConnectPacer
from loadtest.openhands.readiness import poll_ready
from loadtest.openhands.reconnect import reconnect
from loadtest.openhands.rest import RestClient, RestResult
from loadtest.openhands.turns import Turn, TurnBook
from loadtest.sio import SocketIOClient
from loadtest.sio.errors import ConnectRefused, Disconnected, HandshakeRejected, SioError

__all__ = ["Conversation", "ConversationError"]

log = logging.getLogger("loadtest.openhands")

TOO_MANY_CONVERSATIONS = "AGENT_ERROR$TOO_MANY_CONVERSATIONS"
SETTINGS_NOT_FOUND = "CONFIGURATION$SETTINGS_NOT_FOUND"
_NULL_LISTENER = ConversationListener()
_OWN_DISCONNECTS = frozenset({"client", "client_abort"})  # drop() and disconnect(): not the server's doing
# One generator for every conversation's backoff jitter: a Random holds ~2.5 KB of state, and 10,000
# conversations must stay small. Jitter needs no independence between conversations.
_JITTER = random.Random()


class Conversation:
    """One conversation: connect, send messages, observe events, reconnect.

    Attributes:
        conversation_id: the id (None until created).
        integrity: id and traffic counters (`Integrity`).
        create_result: the REST result of the create call, when this object created the conversation.
        last_disconnect_reason: the reason of the latest connection loss.
    """

    def __init__(
        self,
        cfg: ConversationConfig,
        conversation_id: str | None = None,
        listener: ConversationListener | None = None,
        rest: RestClient | None = None,
        *,
        latest_event_id: int = -1,
        rng: random.Random | None = None,
    ) -> None:
        """Args:
        cfg: the settings.
        conversation_id: join this conversation; None creates one over REST on the first `connect`.
        listener: callbacks (default: none).
        rest: a REST client to share (default: one for ``cfg.base_url``, on the process-wide pool).
        latest_event_id: join mid-stream: ids up to this one count as seen (default -1: replay everything).
        rng: randomness for the backoff jitter (tests pass a seeded one).
        """
        self.cfg = cfg
        self.conversation_id = conversation_id
        self.listener = listener or _NULL_LISTENER
        self._rng = rng or _JITTER
        self.pacer = ConnectPacer(cfg.backoff_initial, cfg.backoff_max, self._rng)
        shared = rest or RestClient(
            cfg.base_url, cfg.session_api_key, delayed_ms=cfg.http_delayed_ms, source_address=cfg.source_address
        )
        self.rest = shared.paced(self._rest_slot)
        self.integrity = Integrity()
        self.integrity.max_id = max(-1, latest_event_id)
        self.create_result: RestResult | None = None
        self.last_disconnect_reason: str | None = None
        self.last_cause: str | None = None
        self._turns = TurnBook()
        self._client: SocketIOClient | None = None
        self._replaying = False
        self._replay_state_seen = False
        self._lost_at: float | None = None
        self._resync_from: float | None = None
        self._resync_at: float | None = None
        self._live: gevent.event.Event | None = None  # made by reconnect(): set at the first new live event
        self._closed = False
        self._generation = 0
        self._not_before = 0.0  # perf_counter time before which a refused handshake said not to retry
        self._auditor: HoleAuditor | None = None  # made at the first hole
        self._settled_to = -1  # max_id at the last quiet point whose holes went to the audit

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"Conversation({self.conversation_id!r}, {state}, max_id={self.integrity.max_id})"

    # -- properties --------------------------------------------------------------------------------

    @property
    def max_id(self) -> int:
        """The maximum event id seen (-1 before any)."""
        return self.integrity.max_id

    @property
    def connected(self) -> bool:
        client = self._client
        return client is not None and client.connected

    @property
    def turns_in_flight(self) -> int:
        return len(self._turns)

    @property
    def protocol_errors(self) -> dict[str, int]:
        """Protocol faults of the current (or last) connection, by ``ProtocolError.kind``."""
        client = self._client
        return dict(client.counters.protocol_errors) if client is not None else {}

    # -- create / connect --------------------------------------------------------------------------

    def create(self, initial_user_msg: str | None = None, **fields: Any) -> RestResult:
        """Create the conversation over REST (seeding settings if the server needs them).

        Raises:
            ConversationError: the server did not create it.
        """
        while (hold := self.pacer.retry_in(time.perf_counter())) > 0:  # the backoff; each request takes its slot
            gevent.sleep(hold)
        res = self.rest.create_conversation(initial_user_msg, **fields)
        self._rest_done("create", res)
        self.create_result = res
        body = res.body
        cid = body.get("conversation_id") if isinstance(body, dict) else None
        if not res.ok or not isinstance(cid, str):
            self.pacer.failed(time.perf_counter(), res.retry_after)
            self.last_cause = res.cause or "the create answer had no conversation_id"
            raise ConversationError(res)
        self.conversation_id = cid
        return res

    def wait_ready(self, timeout: float | None = None) -> ReadyResult:
        """Poll ``GET /api/conversations/{id}`` until the conversation runs, as the OpenHands frontend does
        before it opens the socket: ``status`` ``RUNNING`` and ``runtime_status`` set and not ``STATUS$STOPPED``.

        Polls start ``min(0.5, ready_poll)`` s apart and double up to ``cfg.ready_poll``; a 429 waits its
        ``Retry-After``; failed polls (5xx, no answer) are retried. Every poll is reported as REST call
        ``ready`` (so throttles are classified). Never raises for what the server answers.

        Args:
            timeout: seconds at most (default ``cfg.ready_timeout``).

        Returns:
            `ReadyResult`; ``outcome`` ``not_starting`` (e.g. ``STOPPED``: a socket join restarts it) and
            ``unsupported`` (no such route, or no ``status``) mean: connect now without waiting.
        """
        cid = self.conversation_id
        if cid is None:
            raise RuntimeError("wait_ready needs a conversation id: create() or join one first")
        return poll_ready(
            lambda: self.rest.get_conversation(cid),
            self._ready_poll_done,
            timeout if timeout is not None else self.cfg.ready_timeout,
            self.cfg.ready_poll,
            sleep=gevent.sleep,
        )

    def connect(self) -> ConnectResult:
        """Create the conversation if needed, then connect the socket (replay included).

        Waits first for the rest of an earlier refusal's ``Retry-After``, if any.

        Raises:
            ConversationError, HandshakeRejected, ConnectRefused, ConnectTimeout, TransportError: as the
            server answered; the matching signal (``handshake_429``, ``connect_refused``) was sent first.
        """
        if self.conversation_id is None:
            self.create()
        self._honour_retry_after()
        try:
            return self._open()
        except ConnectRefused as exc:
            data = exc.data
            if isinstance(data, dict) and data.get("msg_id") == SETTINGS_NOT_FOUND:
                self._rest_done("settings", self.rest.seed_settings())
                return self._open()
            raise

    def _honour_retry_after(self) -> None:
        """Never hand the server a handshake sooner than its last refusal's ``Retry-After`` allowed.

        Waits out the rest of it (every caller: a user's first connect and its retries, `reconnect`); one
        longer than ``connect_timeout`` is not waited for: the refusal is raised again without a request.
        """
        hold = self._not_before - time.perf_counter()
        if hold <= 0:
            return
        if hold > self.cfg.connect_timeout:
            raise HandshakeRejected(429, hold, "not retried before Retry-After")
        gevent.sleep(hold)

    def _open(self) -> ConnectResult:
        if self._closed:
            raise RuntimeError("Conversation is closed")
        old = self._client
        if old is not None and old.connected:
            raise RuntimeError("Conversation is already connected")
        self._slot(connect=True)
        query, headers, cookies = connect_query(self.cfg, str(self.conversation_id), self.integrity.max_id)
        self._generation += 1
        generation = self._generation
        client = SocketIOClient(
            on_event=self._on_event,
            on_disconnect=lambda reason: self._on_disconnect(generation, reason),
            deflate=self.cfg.deflate,
        )
        self._client = client
        self._replaying = True
        self._replay_state_seen = False
        self.integrity.expect_resume()  # a server that lost our history is a new epoch, not duplicates
        try:
            info = client.connect(
                self.cfg.base_url,
                query=query,
                headers=headers,
                cookies=cookies,
                timeout=self.cfg.connect_timeout,
                socketio_path=self.cfg.socketio_path,
                source_address=self.cfg.source_address,
            )
        except SioError as exc:
            retry_after = exc.retry_after if isinstance(exc, HandshakeRejected) else None
            self.pacer.failed(time.perf_counter(), retry_after)
            self.last_cause = describe_sio(exc, target_of(self.cfg.base_url), self.cfg.connect_timeout)
            if isinstance(exc, HandshakeRejected):
                if retry_after is not None:
                    self._not_before = time.perf_counter() + retry_after
                if exc.status == 429:
                    self._signal("handshake_429")
            elif isinstance(exc, ConnectRefused):
                self._signal("connect_refused")
            raise
        finally:
            self._replaying = False
        self.pacer.connected(info.connected_at)
        self.last_cause = None
        self._lost_at = None
        self._settle(PHASE_REPLAY)
        return ConnectResult(
            duration_ms=(info.connected_at - info.started_at) * 1000.0,
            replayed_events=info.events_before_ack,
            replay_bytes=info.bytes_before_ack,
            started_at=info.started_at,
            connected_at=info.connected_at,
        )

    # -- the per-event path (reader greenlet) ------------------------------------------------------

    def _on_event(self, event: str, args: list[Any], received_at: float, frame_bytes: int) -> None:
        if event != "oh_event":
            return
        payload = args[0] if args else None
        c = classify(payload)
        integ = self.integrity
        integ.events += 1
        integ.bytes += frame_bytes
        kind = c.kind
        client = self._client
        replay = self._replaying and client is not None and not client.connected
        listener = self.listener
        eid = c.id
        duplicate = False
        if eid is not None:
            r = integ.observe(eid, replay and kind is EventKind.AGENT_STATE)
            if r != NEW:
                duplicate = r == DUPLICATE
                what: IntegrityKind = (
                    "out_of_order" if r == OUT_OF_ORDER else "history_reset" if r == RESET else "duplicate"
                )
                listener.on_integrity(self, what, 1)
            elif not replay and self._resync_from is not None and self._resync_at is None:
                self._resync_at = received_at
                if self._live is not None:
                    self._live.set()
            if not replay and integ.open_holes >= self.cfg.audit_batch:
                self._settle(PHASE_LIVE)
        listener.on_event(self, kind, frame_bytes, received_at)
        if duplicate:
            # Dedupe by id alone: a real server resends ids (a join while the conversation starts; the same id
            # with source `agent` live and `environment` stored). A copy is counted, never acted on again.
            return
        if kind is EventKind.AGENT_STATE:
            if replay:
                self._replay_state_seen = True
            elif c.state == "rate_limited":
                self._signal("rate_limited_state")
        elif kind is EventKind.STATUS_ERROR:
            self._signal("status_error")
            if c.status_id == TOO_MANY_CONVERSATIONS:
                self._signal("too_many_conversations")
        elif (kind is EventKind.ERROR_OBSERVATION or kind is EventKind.SESSION_ERROR) and not replay:
            self._signal("error_event")
        if self._turns.inflight:
            ended = self._turns.observe(c, payload, frame_bytes, received_at)
            if ended is not None:
                if ended.waiter is not None:
                    ended.waiter.set()
                listener.on_turn(self, ended)
                if not self._turns.inflight and not replay and integ.max_id - self._settled_to >= self.cfg.audit_span:
                    # A quiet point (no turn in flight): audit the live holes now, a page at a time, rather
                    # than all at the end, when every conversation's audit competes for the REST budget.
                    self._settle(PHASE_LIVE)

    def _on_disconnect(self, generation: int, reason: str) -> None:
        self.listener.on_disconnect(self, reason)
        if reason == "server":
            self._signal("server_disconnect")
        if generation != self._generation:
            return  # a late report from a previous connection
        now = time.perf_counter()
        self.pacer.lost(now, own=reason in _OWN_DISCONNECTS)
        if self._lost_at is None:
            self._lost_at = now
        self.last_disconnect_reason = reason
        self._settle(PHASE_REPLAY if self._replaying else PHASE_LIVE)
        for turn in self._turns.inflight:
            if turn.waiter is not None:
                turn.waiter.set()

    # -- holes -------------------------------------------------------------------------------------

    def _settle(self, phase: str) -> None:
        settle(self, phase)

    def settle(self, timeout: float = 30.0) -> bool:
        """Audit (or count) the holes open now and wait for every audit to finish; False on timeout."""
        self._settle(PHASE_REPLAY if self._replaying else PHASE_LIVE)
        return self._auditor is None or self._auditor.wait(timeout)

    # -- signals -----------------------------------------------------------------------------------

    def _signal(self, name: str) -> None:
        self.listener.on_signal(self, name)

    # -- pacing ------------------------------------------------------------------------------------

    def _slot(self, connect: bool) -> None:
        """Wait until this conversation may open a connection (the window; `connect`: the backoff too)."""
        pacer = self.pacer
        while True:
            now = time.perf_counter()
            wait = pacer.delay(now, connect)
            if wait <= 0:
                pacer.take(now)  # no yield between the check and the take: greenlets cannot both pass
                return
            gevent.sleep(wait)

    def _rest_slot(self) -> None:
        self._slot(connect=False)

    def _rest_done(self, call: str, res: RestResult) -> None:
        self.listener.on_rest(self, call, res)
        if res.throttle is not None:
            self._signal(res.throttle)

    def _rest_retried(self, call: str, res: RestResult) -> None:
        """A failed call that will be asked again: its throttle signal, never a failed call."""
        self.listener.on_rest_retried(self, call, res)
        if res.throttle is not None:
            self._signal(res.throttle)

    def _ready_poll_done(self, res: RestResult) -> None:
        if res.ok or not retryable(res.status):
            self._rest_done("ready", res)
        else:  # the poll is retried until ready_timeout; a timeout is reported as the wait's outcome
            self._rest_retried("ready", res)

    # -- turns -------------------------------------------------------------------------------------

    def send_message(
        self, text: str, intended_at: float | None = None, wait: bool = True, timeout: float | None = None
    ) -> Turn:
        """Emit a chat message (``oh_user_action``, as the OpenHands frontend does) and start a `Turn`.

        Args:
            text: the message content.
            intended_at: perf_counter seconds when a paced sender meant to send it (for ``*_co_ms``).
            wait: block until the turn ends (or ``turn_timeout``, or the connection drops).
            timeout: seconds to wait instead of ``cfg.turn_timeout``.

        Raises:
            Disconnected: the socket is not connected (nothing was sent).
        """
        client = self._client
        if client is None:
            raise Disconnected("not_connected")
        now = time.perf_counter()
        for expired in self._turns.expire(now, self.cfg.turn_timeout):
            self.listener.on_turn(self, expired)
        payload = message_action(text)
        turn = Turn(sent_at=time.perf_counter(), intended_at=intended_at, text=text)
        self._turns.start(turn)
        try:
            turn.action_bytes = client.emit("oh_user_action", payload)
        except SioError:
            self._turns.abandon(turn)
            raise
        if wait:
            self.wait(turn, timeout if timeout is not None else self.cfg.turn_timeout)
        return turn

    def wait(self, turn: Turn, timeout: float | None = None) -> Turn:
        """Wait for `turn` to end, at most `timeout` seconds from its send (default ``turn_timeout``).

        Returns early, with ``end_state`` still None, if the connection drops: reconnect and wait again.
        When the time is up the turn ends as ``timeout``.
        """
        span = timeout if timeout is not None else self.cfg.turn_timeout
        limit = turn.sent_at + span
        while turn.end_state is None:
            waiter = turn.waiter
            if waiter is None:
                waiter = turn.waiter = gevent.event.Event()
            waiter.clear()
            if not self.connected and not self._replaying:
                return turn
            if limit <= time.perf_counter():
                if self._turns.abandon(turn):
                    self.listener.on_turn(self, turn)
                return turn
            DEADLINES.add(waiter, limit, span)  # one sweeper for the process, not a timer per wait
            try:
                waiter.wait()
            finally:
                DEADLINES.discard(waiter)
        return turn

    # -- drop / reconnect / close ------------------------------------------------------------------

    def drop(self, abrupt: bool = True) -> None:
        """Lose the connection on purpose: abrupt TCP close (default) or a clean Socket.IO disconnect."""
        client = self._client
        if client is None:
            return
        self._lost_at = time.perf_counter()
        if abrupt:
            client.abort()
        else:
            client.disconnect()

    def reconnect(self, max_attempts: int | None = None, deadline: float | None = None) -> ReconnectResult:
        """Connect again with ``latest_event_id`` = the maximum id seen, paced (`loadtest.openhands.reconnect`).

        Args:
            max_attempts: attempts at most (default ``cfg.reconnect_max_attempts``).
            deadline: seconds at most, waits included (default ``cfg.reconnect_deadline``).
        """
        return reconnect(self, max_attempts, deadline)

    def close(self) -> None:
        """Disconnect cleanly and stop the hole audit (holes not yet audited stay pending)."""
        self._closed = True
        if self._auditor is not None:
            self._auditor.stop()
        client = self._client
        if client is not None and client.connected:
            client.disconnect()
