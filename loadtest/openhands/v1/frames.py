"""`V1Frames`: what a `V1Conversation` does with each received frame (the reader greenlet's work).

Per frame: decode the JSON, classify it, count it (`UuidIntegrity` on the events socket, `SeqIntegrity` on the
session socket), route it around a replay (`ReplayWatch`), and time turns (`TurnBook`). A copy (duplicate or
the expected overlap) is counted and reported, never acted on again.
"""

from __future__ import annotations

# isort: split

import gevent
import gevent.event

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadtest.openhands.v1.audit import Search, read_pages
from loadtest.openhands.v1.config import V1Config
from loadtest.openhands.v1.events import (
    RUN_LIMIT,
    Classified,
    FrameType,
    V1Kind,
    classify,
    classify_frame,
    message_text,
)
from loadtest.openhands.v1.integrity import (
    DUPLICATE,
    FEED,
    HOLD,
    LATE,
    NEW,
    OUT_OF_ORDER,
    OVERLAP,
    RESET,
    STALE,
    ReplayWatch,
    SeqIntegrity,
    UuidIntegrity,
)
from loadtest.openhands.v1.resume import sdk_rest_query
from loadtest.openhands.v1.turns import Turn, TurnBook
from loadtest.ws.json import loads  # orjson when installed, else the capped stdlib parser

if TYPE_CHECKING:
    from loadtest.openhands.v1.conversation import V1Conversation

__all__ = ["V1Counts", "V1Frames"]

_UUID_RESULTS = {DUPLICATE: "duplicate", OVERLAP: "overlap", LATE: "out_of_order", STALE: "stale"}
_SEQ_RESULTS = {DUPLICATE: "duplicate", OUT_OF_ORDER: "out_of_order", RESET: "history_reset"}


@dataclass(frozen=True, slots=True)
class V1Counts:
    """One V1 conversation's event and id counters at one moment (the conversation contract's ``integrity``).

    ``out_of_order``: on the events socket, ids delivered after the audit had counted them missing; on the
    session socket, seqs below the newest. ``overlap``: the expected resume-boundary copies (not duplicates).
    """

    events: int
    bytes: int
    gaps: int
    duplicates: int
    out_of_order: int
    overlap: int


class V1Frames:
    """Per-conversation frame handling; one connection at a time (`begin` starts the next).

    Attributes:
        book: the turns (`TurnBook`).
        ids: UUID integrity (events socket); seq: seq integrity (session socket).
        watch: the current events-socket connection's `ReplayWatch`.
        connected_at: receive stamp of the current connection's first snapshot (``sync``), None before.
        bad_frames: frames that were not JSON text; bad_frames_now: those of the current connection.
    """

    def __init__(self, conv: V1Conversation, cfg: V1Config) -> None:
        self.conv = conv
        self.cfg = cfg
        self.book = TurnBook()
        self.ids = UuidIntegrity()
        self.seq = SeqIntegrity()
        self.watch: ReplayWatch | None = None
        self.connected_at: float | None = None
        self.replayed_before_ready = 0
        self.replay_bytes_before_ready = 0
        self.bad_frames = 0
        self.bad_frames_now = 0
        self._mode = "all"
        self._ready: gevent.event.Event | None = None
        self._quiet = gevent.event.Event()
        self._snapshot_due = False

    # -- connection life ---------------------------------------------------------------------------

    def begin(self, started: float, mode: str, ready: gevent.event.Event) -> None:
        """A connection with resend `mode` (``since``/``all``/``none``) opens now."""
        self._mode = mode
        self._ready = ready
        self._quiet.clear()
        self.connected_at = None
        self.replayed_before_ready = 0
        self.replay_bytes_before_ready = 0
        self.bad_frames_now = 0
        if self.cfg.socket == "events":
            self.ids.expect_resume(mode)
            self.watch = ReplayWatch(started, resend=mode != "none")

    def counts(self) -> V1Counts:
        """The counters now: the seq tracker's on the session socket, the UUID tracker's on the events socket."""
        if self.cfg.socket == "session":
            q = self.seq.ids
            return V1Counts(q.events, q.bytes, q.gaps, q.duplicates, q.out_of_order, 0)
        i = self.ids
        return V1Counts(i.events, i.bytes, i.gaps, i.duplicates, i.late, i.overlap)

    def missing_snapshot(self) -> None:
        self.conv.listener.on_integrity(self.conv, "missing_snapshot", 1)

    def start_quiet_watch(self, gen: int, current: Callable[[], int]) -> None:
        """After the snapshot: end the replay once no replayed frame came for ``replay_quiet`` seconds."""
        watch = self.watch
        if self.cfg.socket == "session" or watch is None:
            return  # the session socket's replay ends at its snapshot
        if not watch.replaying:
            self._quiet.set()
            return

        def run() -> None:
            quiet = self.cfg.replay_quiet
            while current() == gen and watch.replaying:
                now = time.perf_counter()
                if watch.quiet(now, quiet):
                    self._end_replay(watch, now)
                    return
                last = watch.last_replay_at or watch.snapshot_at or now
                gevent.sleep(max(0.005, last + quiet - now))

        gevent.spawn(run)

    def wait_quiet(self, timeout: float) -> bool:
        return bool(self._quiet.wait(timeout))

    def wake_all(self) -> None:
        for turn in self.book.inflight:
            if turn.waiter is not None:
                turn.waiter.set()

    def _end_replay(self, watch: ReplayWatch, now: float) -> None:
        status_ts = watch.status_ts
        status = watch.end_replay()
        for turn in self.book.settle(status, now, status_ts):
            self._finish(turn)
        if watch.interleaved:
            self.conv.listener.on_integrity(self.conv, "interleaved", watch.interleaved)
        self._quiet.set()

    # -- REST fills ----------------------------------------------------------------------------------

    def fill(self, items: list[Any]) -> int:
        """Record stored events read over REST (not delivered by the socket) as ``filled``."""
        n = self.ids.fill(self.ids.missing(items))
        if n:
            self.conv.listener.on_integrity(self.conv, "filled", n)
        return n

    def reconcile(self, search: Search) -> int:
        """The SDK strategy: after a reconnect without resend, read what was stored since the newest event
        seen and record it as ``filled``."""
        listing = read_pages(
            search, sdk_rest_query(self.ids.newest_ts), self.cfg.audit_max_pages, self.cfg.audit_rate, 30.0
        )
        return self.fill(listing.items) if listing is not None else 0

    # -- the per-frame path (reader greenlet) ------------------------------------------------------

    def handler(self, gen: int) -> Callable[[bool, bytes, float], None]:
        """The `WebSocket.start` message handler of connection `gen`: this socket's frame method with `gen`
        bound (a C partial: one Python call per received frame up to the classification)."""
        return functools.partial(self._on_event if self.cfg.socket == "events" else self._on_envelope, gen)

    def on_message(self, gen: int, is_text: bool, payload: bytes, received_at: float) -> None:
        """One received message of connection `gen` (ignored unless it is the current one)."""
        self.handler(gen)(is_text, payload, received_at)

    def _decode(self, gen: int, is_text: bool, payload: bytes) -> Any:
        """The frame's JSON, or None when it is not the current connection's or not JSON text (counted)."""
        if gen != self.conv._generation:
            return None
        try:
            obj = loads(payload) if is_text else None
        except ValueError:
            obj = None
        if obj is None:
            self._bad_frame()
        return obj

    def _bad_frame(self) -> None:
        self.bad_frames += 1
        self.bad_frames_now += 1

    def _ready_now(self, at: float) -> None:
        if self.connected_at is None:
            self.connected_at = at
            if self._ready is not None:
                self._ready.set()

    def _on_event(self, gen: int, is_text: bool, payload: bytes, at: float) -> None:
        if gen != self.conv._generation:
            return
        try:
            obj = loads(payload) if is_text else None  # `_decode`, inlined: this is the hot path
        except ValueError:
            obj = None
        if obj is None:
            self._bad_frame()
            return
        size = len(payload)
        c = classify(obj)
        kind = c.kind
        ids, conv = self.ids, self.conv
        ids.events += 1
        ids.bytes += size
        conv.listener.on_event(conv, kind, size, at)
        if kind is V1Kind.STREAMING_DELTA:
            self.book.observe_delta(at)
            return
        watch = self.watch
        if watch is None:
            return
        if watch.snapshot_at is not None and not watch.replaying:
            # The live case (after the snapshot, no replay running): what `ReplayWatch.observe` does for it.
            watch.live += 1
            watch.last_replayed = False
            route = FEED
        else:
            if watch.replaying and watch.quiet(at, self.cfg.replay_quiet):
                self._end_replay(watch, at)
            had_snapshot = watch.snapshot_at is not None
            route = watch.observe(c, at)
            if not had_snapshot and watch.snapshot_at is not None:
                self._ready_now(at)
            elif self.connected_at is None:
                self.replayed_before_ready += 1
                self.replay_bytes_before_ready += size
        if c.stored and c.id is not None:
            r = ids.observe(c.id, c.timestamp)
            if r != NEW:
                conv.listener.on_integrity(conv, _UUID_RESULTS.get(r, "duplicate"), 1)
                return
        if (kind is V1Kind.SERVER_ERROR or kind is V1Kind.CONVERSATION_ERROR) and not watch.last_replayed:
            self._signals(c)
        book = self.book
        if route != HOLD and (book.inflight or kind is V1Kind.EXECUTION_STATUS or kind is V1Kind.FULL_STATE):
            # `_turns`, inlined
            for turn in book.observe(c, message_text(obj) if kind is V1Kind.USER_MESSAGE else None, size, at):
                self._finish(turn)

    def _on_envelope(self, gen: int, is_text: bool, payload: bytes, at: float) -> None:
        obj = self._decode(gen, is_text, payload)
        if obj is None:
            return
        size = len(payload)
        e = classify_frame(obj)
        conv, seq = self.conv, self.seq
        ftype = e.type
        if ftype is FrameType.SYNC:
            seq.on_sync(e.through_seq, live_only=self._mode == "none")
            self._snapshot_due = True
            self._ready_now(at)
            return
        seq.ids.events += 1
        seq.ids.bytes += size
        if ftype is FrameType.DELTA:
            conv.listener.on_event(conv, V1Kind.STREAMING_DELTA, size, at)
            self.book.observe_delta(at, e.item_id)
            return
        if ftype is FrameType.ERROR:
            conv.signal("error_event")
            return
        if ftype is not FrameType.DURABLE and ftype is not FrameType.TRANSIENT:
            return
        c = classify(e.event)
        conv.listener.on_event(conv, c.kind, size, at)
        if ftype is FrameType.DURABLE:
            if e.seq is not None:
                r = seq.observe(e.seq)
                if r != NEW:
                    conv.listener.on_integrity(conv, _SEQ_RESULTS.get(r, "duplicate"), 1)
                    if r == DUPLICATE:
                        return
            if not self._snapshot_due:  # live, not replayed
                self._signals(c)
        elif self._snapshot_due:
            self._snapshot_due = False
            gaps = seq.on_snapshot() + seq.settle()
            if gaps:
                conv.listener.on_integrity(conv, "gap", gaps)
            self._quiet.set()
        self._turns(c, e.event, size, at)

    def _signals(self, c: Classified) -> None:
        kind = c.kind
        if kind is V1Kind.SERVER_ERROR:
            self.conv.signal("run_limit" if c.code == RUN_LIMIT else "error_event")
        elif kind is V1Kind.CONVERSATION_ERROR:
            self.conv.signal("error_event")

    def _turns(self, c: Classified, obj: Any, size: int, at: float) -> None:
        if not self.book.inflight and c.kind is not V1Kind.EXECUTION_STATUS and c.kind is not V1Kind.FULL_STATE:
            return
        text = message_text(obj) if c.kind is V1Kind.USER_MESSAGE else None
        for turn in self.book.observe(c, text, size, at):
            self._finish(turn)

    def _finish(self, turn: Turn) -> None:
        if turn.waiter is not None:
            turn.waiter.set()
        self.conv.listener.on_turn(self.conv, turn)
