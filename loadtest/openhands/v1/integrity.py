"""V1 integrity, pure (no I/O, no clock of its own): by UUID on the events socket, by seq on the session socket.

**Events socket (`UuidIntegrity`).** Ids are UUIDs, so nothing orders them: a duplicate is an id seen twice,
a gap is a stored event (the server's REST ``events/search``) the socket never delivered. What is kept, and
why it stays bounded over a long run:

- ``_seen``: id → timestamp of every *stored* kind delivered at or above the *floor* (snapshots, deltas and
  server errors have a fresh id each time and are never stored: not tracked). After an audit reconciled
  the stored events up to a timestamp, the owner calls `UuidIntegrity.prune` with it: ids below are forgotten.
  Everything below the floor was then either delivered or counted as a gap, so an id arriving again with a
  timestamp below the floor is exactly a duplicate (or a late gap, see ``_missing``) without keeping it.
  If ``_seen`` passes ``max_ids`` without an audit, the oldest half is dropped anyway (`overflows`); re-arrivals
  below such an unaudited floor cannot be told from late events and are counted as ``stale``.
- ``_boundary``: the ids carrying the newest stored timestamp (the resume point), a handful; after a
  ``resend_mode=since`` resume, their one re-delivery each is the expected ``overlap``, not a duplicate.
- ``_missing``: at most ``missing_cap`` ids counted as gaps, so a late arrival counts as ``late``.

Ordering between UUIDs is not judged (live events legitimately interleave a replay); see `ReplayWatch`.

**Replay (`ReplayWatch`, one per connection).** The events socket subscribes before it replays and marks no
end of the replay: live frames arrive before the snapshot and in the middle of the replay (vectors
``events-resume-all-interleaved-{a,b}``). A frame is *replayed* when it is a stored kind stamped before the
connection's snapshot; live frames amid the replay are counted (``interleaved``). Replayed status updates and
every ``full_state`` after the snapshot are held while the replay runs (live status updates go through: they
are current and end nothing); once no replayed frame came for a quiet time, the owner applies
`ReplayWatch.status` (the newest status by server timestamp) to its turns.

**Session socket (`SeqIntegrity`).** ``seq`` is a gapless 0-based log position: V0's integer-id tracker
(`loadtest.openhands.integrity.Integrity`) applies as is, and every hole is a gap (nothing is withheld).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loadtest.openhands.integrity import DUPLICATE, NEW, OUT_OF_ORDER, RESET, Integrity
from loadtest.openhands.v1.events import Classified, V1Kind, classify

__all__ = [
    "DUPLICATE",
    "FEED",
    "HOLD",
    "LATE",
    "MODE_ALL",
    "MODE_NONE",
    "MODE_SINCE",
    "NEW",
    "OUT_OF_ORDER",
    "OVERLAP",
    "RESET",
    "STALE",
    "ReplayWatch",
    "SeqIntegrity",
    "UuidIntegrity",
]

# UuidIntegrity.observe results (NEW and DUPLICATE shared with the V0 tracker).
OVERLAP = 10  # the expected re-delivery of the resume point on `resend_mode=since`
LATE = 11  # an id counted as a gap arrived after all
STALE = 12  # below an unaudited floor: seen before or late, cannot tell

MODE_SINCE = "since"
_BOUNDARY_CAP = 1024  # ids sharing the newest timestamp kept for the overlap (a real server: one or two)
MODE_ALL = "all"
MODE_NONE = "none"


class UuidIntegrity:
    """Id bookkeeping of one conversation on the events socket (see the module doc for what is kept).

    Attributes:
        events, bytes: frames observed (every kind) and their bytes (the owner adds them).
        duplicates: stored ids delivered again (not the expected overlap).
        overlap: the expected re-deliveries of the resume point.
        gaps: stored ids the socket never delivered (from `count_gaps`).
        late: ids counted as gaps that arrived later.
        stale: re-arrivals below a floor no audit covered (duplicate or late: unknown).
        filled: ids filled in over REST, not by the socket (`fill`).
        overflows: times ``_seen`` was cut without an audit.
        newest_ts: the newest stored timestamp delivered: the resume point (the server's own string).
        floor: timestamps below it are forgotten; None before any prune.
    """

    __slots__ = (
        "_boundary",
        "_floor_audited",
        "_missing",
        "_overlap",
        "_seen",
        "bytes",
        "duplicates",
        "events",
        "filled",
        "floor",
        "gaps",
        "late",
        "max_ids",
        "missing_cap",
        "newest_ts",
        "overflows",
        "overlap",
        "stale",
    )

    def __init__(self, *, max_ids: int = 20_000, missing_cap: int = 1_024) -> None:
        self.events = 0
        self.bytes = 0
        self.duplicates = 0
        self.overlap = 0
        self.gaps = 0
        self.late = 0
        self.stale = 0
        self.filled = 0
        self.overflows = 0
        self.newest_ts: str | None = None
        self.floor: str | None = None
        self.max_ids = max_ids
        self.missing_cap = missing_cap
        self._floor_audited = True
        self._seen: dict[str, str] = {}
        self._boundary: set[str] = set()
        self._overlap: set[str] = set()
        self._missing: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"UuidIntegrity(events={self.events}, duplicates={self.duplicates}, overlap={self.overlap}, "
            f"gaps={self.gaps}, late={self.late}, stale={self.stale}, filled={self.filled}, kept={len(self._seen)})"
        )

    @property
    def kept(self) -> int:
        """Ids held now (the memory bound's measure)."""
        return len(self._seen)

    def expect_resume(self, mode: str) -> None:
        """A (re)connect with this resend mode starts now (``since`` from `newest_ts`, ``all``, ``none``).

        ``since``: the ids at `newest_ts` are expected once more (the boundary is inclusive). ``all``: the whole
        history comes again, expected: a new window starts (ids, floor and late-gap memory are dropped; gaps
        already counted stay counted). ``none``: nothing is expected again.
        """
        if mode == MODE_ALL:
            self._seen = {}
            self._boundary = set()
            self._overlap = set()
            self._missing = set()
            self.floor = None
            self._floor_audited = True
            self.newest_ts = None
            return
        self._overlap = set(self._boundary) if mode == MODE_SINCE else set()

    def observe(self, eid: str, ts: str | None) -> int:
        """Record one delivered stored event; returns `NEW`, `DUPLICATE`, `OVERLAP`, `LATE` or `STALE`."""
        seen = self._seen
        if eid in seen:
            if eid in self._overlap:
                self._overlap.discard(eid)
                self.overlap += 1
                return OVERLAP
            self.duplicates += 1
            return DUPLICATE
        if eid in self._missing:
            self._missing.discard(eid)
            self.late += 1
            self._remember(eid, ts or "")
            return LATE
        stamp = ts or ""
        floor = self.floor
        if floor is not None and stamp < floor:
            if self._floor_audited:
                self.duplicates += 1
                return DUPLICATE
            self.stale += 1
            return STALE
        # `_remember`, inlined: this is the per-event path of every new stored event.
        seen[eid] = stamp
        newest = self.newest_ts
        if newest is None or stamp > newest:
            self.newest_ts = stamp or None
            self._boundary = {eid}
        elif stamp == newest and len(self._boundary) < _BOUNDARY_CAP:
            self._boundary.add(eid)
        if len(seen) > self.max_ids:
            self._overflow()
        return NEW

    def _remember(self, eid: str, stamp: str) -> None:
        seen = self._seen
        seen[eid] = stamp
        newest = self.newest_ts
        if newest is None or stamp > newest:
            self.newest_ts = stamp or None
            self._boundary = {eid}
        elif stamp == newest and len(self._boundary) < _BOUNDARY_CAP:
            self._boundary.add(eid)
        if len(seen) > self.max_ids:
            self._overflow()

    def _overflow(self) -> None:
        """Drop the older half of ``_seen`` without an audit (the floor becomes unaudited)."""
        self.overflows += 1
        stamps = sorted(self._seen.values())
        self._cut(stamps[len(stamps) // 2], audited=False)
        if len(self._seen) > self.max_ids // 2 + 1:
            # Timestamps too alike to cut by (a hostile server): keep the latest arrivals. A dropped id that
            # comes again then counts as new: the bound wins over exactness here.
            self._seen = dict(list(self._seen.items())[-(self.max_ids // 2) :])
            self._floor_audited = False

    def prune(self, floor: str) -> int:
        """Forget the ids stamped before `floor` (an audit reconciled everything up to it); returns how many.

        Never raises the floor above `newest_ts` (the resume point's ids must stay for the overlap).
        """
        if self.newest_ts is not None and floor > self.newest_ts:
            floor = self.newest_ts
        return self._cut(floor, audited=True)

    def _cut(self, floor: str, audited: bool) -> int:
        if self.floor is not None and floor <= self.floor:
            return 0
        before = len(self._seen)
        self._seen = {k: v for k, v in self._seen.items() if v >= floor}
        self.floor = floor
        self._floor_audited = audited and self._floor_audited
        return before - len(self._seen)

    def missing(self, stored: Iterable[Any], through: str | None = None) -> list[tuple[str, str]]:
        """The stored events (REST ``events/search`` items) the socket has not delivered: (id, timestamp).

        Only events at or above the floor (below it was audited before) and, with `through`, stamped at or
        before it (later ones may still be on their way). Already counted gaps are left out. No side effect.
        """
        out: list[tuple[str, str]] = []
        floor = self.floor
        for item in stored:
            c = classify(item)
            eid = c.id
            if eid is None or not c.stored or eid in self._seen or eid in self._missing:
                continue
            stamp = c.timestamp or ""
            if floor is not None and stamp < floor:
                continue
            if through is not None and stamp > through:
                continue
            out.append((eid, stamp))
        return out

    def count_gaps(self, ids: Iterable[tuple[str, str]]) -> int:
        """Count these (from `missing`) as gaps; returns how many. Their late arrival then counts as ``late``."""
        n = 0
        for eid, _ in ids:
            if eid in self._seen or eid in self._missing:
                continue
            n += 1
            if len(self._missing) < self.missing_cap:
                self._missing.add(eid)
        self.gaps += n
        return n

    def fill(self, ids: Iterable[tuple[str, str]]) -> int:
        """These (from `missing`) were read over REST instead: record them as delivered, counted ``filled``."""
        n = 0
        for eid, stamp in ids:
            if eid not in self._seen:
                self._missing.discard(eid)
                self._remember(eid, stamp)
                n += 1
        self.filled += n
        return n


# ReplayWatch.observe routes
FEED = "feed"  # give the event to the turn book now
HOLD = "hold"  # a state frame during a replay: held until the replay is quiet


class ReplayWatch:
    """One events-socket connection: the snapshot, replayed vs live frames, and when the replay is quiet.

    Attributes:
        replaying: a resend was asked (``since``/``all``) and the replay has not been declared quiet.
        opened_at: the connection's start (perf_counter seconds).
        snapshot_at, snapshot_ts: the first ``full_state``'s receive stamp and server timestamp.
        last_replay_at: the receive stamp of the latest replayed frame.
        replayed: replayed frames; live: live frames (before and after the snapshot).
        interleaved: live frames that arrived before a later replayed frame (before the snapshot included).
    """

    __slots__ = (
        "_live_pending",
        "_status",
        "_status_ts",
        "interleaved",
        "last_replay_at",
        "last_replayed",
        "live",
        "opened_at",
        "replayed",
        "replaying",
        "snapshot_at",
        "snapshot_ts",
    )

    def __init__(self, opened_at: float, resend: bool) -> None:
        self.opened_at = opened_at
        self.replaying = resend
        self.snapshot_at: float | None = None
        self.snapshot_ts: str | None = None
        self.last_replay_at: float | None = None
        self.replayed = 0
        self.live = 0
        self.interleaved = 0
        self.last_replayed = False  # whether the latest observed frame was a replayed one
        self._live_pending = 0
        self._status: str | None = None
        self._status_ts = ""

    def observe(self, c: Classified, received_at: float) -> str:
        """Route one frame: `FEED` (to the turns now) or `HOLD` (a replayed status update, or a ``full_state``
        after the snapshot, while the replay runs)."""
        kind = c.kind
        state = kind is V1Kind.FULL_STATE or kind is V1Kind.EXECUTION_STATUS
        self.last_replayed = False
        if kind is V1Kind.FULL_STATE and self.snapshot_at is None:
            self.snapshot_at = received_at
            self.snapshot_ts = c.timestamp or ""
            self._note_status(c)
            return FEED
        if not self.replaying:
            self.live += 1
            return FEED
        snap = self.snapshot_ts
        if snap is not None and c.stored and (c.timestamp or "") < snap:
            self.replayed += 1
            self.last_replayed = True
            self.last_replay_at = received_at
            self.interleaved += self._live_pending
            self._live_pending = 0
        else:
            self.live += 1
            self._live_pending += 1
        if state:
            self._note_status(c)
            if kind is V1Kind.EXECUTION_STATUS and not self.last_replayed:
                return FEED  # a live status update is current, and never ends a turn by itself
            return HOLD
        return FEED

    def _note_status(self, c: Classified) -> None:
        stamp = c.timestamp or ""
        if c.status is not None and stamp >= self._status_ts:
            self._status = c.status
            self._status_ts = stamp

    def quiet(self, now: float, quiet_s: float) -> bool:
        """Whether the replay is quiescent: the snapshot came and no replayed frame for `quiet_s` seconds.

        A connection without a resend is quiet at its snapshot.
        """
        if self.snapshot_at is None:
            return False
        if not self.replaying:
            return True
        last = self.last_replay_at if self.last_replay_at is not None else self.snapshot_at
        return now - last >= quiet_s

    def end_replay(self) -> str | None:
        """Declare the replay over; returns the status to apply to the turns (the newest held, by server
        timestamp: the latest ``full_state`` or stored ``execution_status``), or None."""
        self.replaying = False
        self._live_pending = 0
        return self._status

    def missing_snapshot(self, now: float, wait_s: float) -> bool:
        """No ``full_state`` within `wait_s` seconds of opening: the initial snapshot is missing."""
        return self.snapshot_at is None and now - self.opened_at >= wait_s

    @property
    def status_ts(self) -> str | None:
        """The server timestamp of `status` (None before any)."""
        return self._status_ts if self._status is not None else None

    @property
    def status(self) -> str | None:
        """The newest execution status seen on this connection (by server timestamp)."""
        return self._status


class SeqIntegrity:
    """Seq bookkeeping of one conversation on the session socket, on V0's integer tracker.

    ``seq`` is gapless, so every hole is a gap at once: `settle` counts the open holes as gaps (no audit).
    A replay that stops short of the ``sync``'s ``through_seq`` (the snapshot came first) leaves a tail gap.

    Attributes:
        ids: the V0 `Integrity` (``max_id`` is the newest seq: the next ``after_seq``).
        through_seq: the replay's target from the latest ``sync`` (None: nothing to replay).
        tail_gaps: seqs the replay should have sent before the snapshot and did not (also in ``ids.gaps``).
    """

    __slots__ = ("_tails", "ids", "tail_gaps", "through_seq")

    def __init__(self) -> None:
        self.ids = Integrity()
        self.through_seq: int | None = None
        self.tail_gaps = 0
        self._tails: list[tuple[int, int]] = []

    @property
    def after_seq(self) -> int:
        """The ``after_seq`` to resume from (-1: everything)."""
        return self.ids.max_id

    def on_sync(self, through_seq: int | None, live_only: bool = False) -> None:
        """A ``sync`` frame: the connection starts; durables ``after_seq+1 … through_seq`` are due first.

        Args:
            through_seq: the ``sync``'s ``through_seq``.
            live_only: the connection asked no ``after_seq``: the history up to ``through_seq`` is skipped on
                purpose (not gaps), live seqs follow it.
        """
        ids = self.ids
        if live_only:
            if through_seq is not None and through_seq > ids.max_id:
                ids.max_id = through_seq
            self.through_seq = None
            return
        ids.expect_resume()
        self.through_seq = through_seq

    @property
    def replay_done(self) -> bool:
        """The replay reached ``through_seq`` (or there was none)."""
        t = self.through_seq
        return t is None or self.ids.max_id >= t

    def observe(self, seq: int) -> int:
        """One durable ``seq``; returns V0's `NEW`, `DUPLICATE`, `OUT_OF_ORDER` or `RESET`."""
        for i, (lo, hi) in enumerate(self._tails):
            if lo <= seq <= hi:
                del self._tails[i]
                if lo < seq:
                    self._tails.append((lo, seq - 1))
                if seq < hi:
                    self._tails.append((seq + 1, hi))
                self.ids.out_of_order += 1
                return OUT_OF_ORDER
        return self.ids.observe(seq)

    def on_snapshot(self) -> int:
        """The transient snapshot arrived (it follows the replay): count a replay that fell short; returns
        the tail gaps added."""
        t = self.through_seq
        self.through_seq = None
        mx = self.ids.max_id
        if t is None or mx >= t:
            return 0
        n = t - mx
        self.ids.gaps += n
        self.tail_gaps += n
        self.ids.max_id = t  # resume after the tail, as the server's log does
        self._tails.append((mx + 1, t))
        if len(self._tails) > 32:
            del self._tails[0]
        return n

    def settle(self) -> int:
        """Count the open holes as gaps (a gapless log withholds nothing); returns how many."""
        ids = self.ids
        n = ids.take_overflow()
        holes = ids.take_holes()
        if holes:
            added, _ = ids.resolve((), holes)
            n += added
        return n
