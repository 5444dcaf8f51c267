"""Per-conversation event-id integrity: maximum id, holes, duplicates, out-of-order, and the hole audit.

Pure: no I/O, no clock. `Integrity.observe` runs once per received event with an id, so it is a few
integer compares and set operations. Memory stays small: the maximum id plus the set of *open holes*
(ids below the maximum that have not arrived), never a set of every id seen.

Life of a hole:

1. ``observe(12)`` after a maximum of 9 opens holes 10 and 11.
2. If 10 arrives later it closes its hole and counts as out-of-order, unless it is the newest
   ``agent_state_changed`` that OpenHands sends *last* in a replay (``quiet=True``), which is neither.
3. At a quiet point (replay complete, turn end, disconnect) the owner calls `take_holes`: the open holes
   move to *pending*. Either `resolve` them with the verdict of `audit_holes` (the server's own record,
   from REST) or count them all as gaps (`resolve(gaps=...)`). An id that arrives while pending, or after
   it was counted as a gap, is out-of-order (late), never a duplicate.

OpenHands withholds some ids on purpose (protocol doc §3–4): in a replay every ``agent_state_changed``
but the newest, null actions/observations and ``recall`` actions; live, null events and the
environment-sourced events it does not forward. `audit_holes` sorts the holes of one quiet point into
those expected holes and real gaps.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from loadtest.openhands.events import EventKind, classify

__all__ = [
    "DUPLICATE",
    "NEW",
    "OUT_OF_ORDER",
    "PHASE_LIVE",
    "PHASE_REPLAY",
    "RESET",
    "Integrity",
    "audit_holes",
]

# observe() results: plain ints, compared by identity-free equality in the hot path.
NEW = 0
DUPLICATE = 1
OUT_OF_ORDER = 2
RESET = 3  # the server's id history restarted (see `Integrity.expect_resume`)

_EMPTY: frozenset[int] = frozenset()
_RESUME_RANGES = 32  # resume ranges remembered for the audit (older holes are long settled)

PHASE_REPLAY = "replay"
PHASE_LIVE = "live"

# Environment-sourced observations a live session forwards (rewritten to source "agent"); any other
# environment-sourced event is persisted but not sent live.
_LIVE_FORWARDED_ENV = frozenset(
    {EventKind.RUN_OUTPUT, EventKind.AGENT_STATE, EventKind.RECALL_OUTPUT, EventKind.ERROR_OBSERVATION}
)


class Integrity:
    """Id bookkeeping for one conversation, plus its event and byte counts.

    Attributes:
        max_id: the maximum event id seen (-1 before any).
        events: oh_event payloads received (all, with or without id).
        bytes: frame bytes of those payloads.
        gaps: holes resolved as missing (the server should have sent them).
        duplicates: ids received again.
        out_of_order: ids received after a higher id (late), except the replay's trailing state event.
        holes_expected: holes the server withholds on purpose (see `audit_holes`).
        unaudited: holes the audit could not settle (REST throttled or failing after every retry, or over
            its page bound): neither gaps nor expected, reported apart (`give_up`). With the audit off, the
            conversation counts its holes as gaps *and* here (nobody was asked).
        resets: times the server's id history restarted below our maximum (a restarted server that lost
            the conversation); each starts a new epoch (see `expect_resume`).
    """

    __slots__ = (
        "_holes",
        "_missing",
        "_pending",
        "_resume",
        "_resume_ranges",
        "bytes",
        "duplicates",
        "events",
        "gaps",
        "hole_cap",
        "holes_expected",
        "max_id",
        "missing_cap",
        "out_of_order",
        "overflow",
        "resets",
        "unaudited",
    )

    def __init__(self, *, hole_cap: int = 10_000, missing_cap: int = 1_024) -> None:
        """Args:
        hole_cap: most holes kept open; a jump beyond it counts the excess as gaps at once (`overflow`).
        missing_cap: most resolved gaps remembered so that their late arrival counts as out-of-order.
        """
        self.max_id = -1
        self.events = 0
        self.bytes = 0
        self.gaps = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.holes_expected = 0
        self.overflow = 0
        self.unaudited = 0
        self.resets = 0
        self._resume = False
        self._resume_ranges: list[tuple[int, int]] | tuple[()] = ()
        self.hole_cap = hole_cap
        self.missing_cap = missing_cap
        # Sets are made on first use: most conversations never need them (a few hundred bytes each).
        self._holes: set[int] | frozenset[int] = _EMPTY
        self._pending: set[int] | frozenset[int] = _EMPTY
        self._missing: set[int] | frozenset[int] = _EMPTY

    def __repr__(self) -> str:
        return (
            f"Integrity(max_id={self.max_id}, events={self.events}, gaps={self.gaps}, "
            f"duplicates={self.duplicates}, out_of_order={self.out_of_order}, "
            f"holes_expected={self.holes_expected}, unaudited={self.unaudited}, resets={self.resets}, "
            f"open_holes={len(self._holes)}, pending={len(self._pending)})"
        )

    @property
    def open_holes(self) -> int:
        """Holes not yet taken for resolution."""
        return len(self._holes)

    @property
    def pending_holes(self) -> int:
        """Holes taken but not yet resolved."""
        return len(self._pending)

    def expect_resume(self) -> None:
        """A (re)connect with ``latest_event_id`` = `max_id` starts now.

        The server replays every id above our maximum before anything else, so the first (not quiet) id
        of the new connection is above the maximum, or closes a hole. If it is neither, the server's
        history no longer reaches our maximum: it restarted and recreated the conversation (the reference
        server keeps conversations in memory). `observe` then returns `RESET` once and starts a new
        epoch: the maximum becomes that id, holes of the old history are dropped (nobody can send them
        any more), ids below it in the new history are not holes (we never asked for them), and later
        ids are judged against the new history, not counted as thousands of duplicates.
        """
        self._resume = self.max_id >= 0

    def observe(self, eid: int, quiet: bool = False) -> int:
        """Record one received id; returns `NEW`, `DUPLICATE`, `OUT_OF_ORDER` or `RESET`.

        Args:
            eid: the event id (non-negative int).
            quiet: the event may legitimately arrive below the maximum (the newest state event sent last
                in a replay): closing a hole with it is `NEW`, not out-of-order.
        """
        mx = self.max_id
        if self._resume and not quiet:
            self._resume = False
            if eid <= mx and eid not in self._holes and eid not in self._pending:
                self._new_epoch(eid)
                return RESET
            if eid > mx + 1:  # ids the replay was due to send (or withhold) before this one
                self._note_resume_range(mx + 1, eid)
        if eid > mx:
            if eid > mx + 1:
                self._open(mx + 1, eid)
            self.max_id = eid
            return NEW
        holes = self._holes
        if eid in holes:
            holes.remove(eid)  # type: ignore[union-attr]  # non-empty, so a set
            if quiet:
                return NEW
            self.out_of_order += 1
            return OUT_OF_ORDER
        if eid in self._pending:
            self._pending.remove(eid)  # type: ignore[union-attr]
            self.out_of_order += 1
            return OUT_OF_ORDER
        if eid in self._missing:
            self._missing.remove(eid)  # type: ignore[union-attr]
            self.out_of_order += 1
            return OUT_OF_ORDER
        self.duplicates += 1
        return DUPLICATE

    def _note_resume_range(self, lo: int, hi: int) -> None:
        ranges = self._resume_ranges
        if not isinstance(ranges, list):
            ranges = self._resume_ranges = []
        ranges.append((lo, hi))
        if len(ranges) > _RESUME_RANGES:
            del ranges[0]

    def replay_window(self, eid: int) -> bool:
        """Whether hole `eid` opened between a resume point and the first id after it.

        Such ids were the replay's to send or withhold, even when nothing was replayed and the jump
        came with the first live event (the replay ran before the id was stored, and a reconnect never
        asks for it again): the audit judges them by the replay's rules.
        """
        return any(lo <= eid < hi for lo, hi in self._resume_ranges)

    def _new_epoch(self, eid: int) -> None:
        self.resets += 1
        self._holes = _EMPTY
        self._pending = _EMPTY
        self._missing = _EMPTY
        self._resume_ranges = ()
        self.overflow = 0
        # Ids below the first one of the new history are no holes: our latest_event_id asked for none of them.
        self.max_id = eid

    def _open(self, lo: int, hi: int) -> None:
        holes = self._holes
        if not isinstance(holes, set):
            holes = self._holes = set()
        room = self.hole_cap - len(holes)
        width = hi - lo
        if width <= room:
            holes.update(range(lo, hi))
            return
        keep = max(room, 0)
        holes.update(range(lo, lo + keep))
        self.overflow += width - keep

    def take_holes(self) -> list[int]:
        """Move the open holes to pending and return them sorted (the caller resolves them later)."""
        if not self._holes:
            return []
        taken = sorted(self._holes)
        if not isinstance(self._pending, set):
            self._pending = set()
        self._pending.update(taken)
        self._holes = _EMPTY
        return taken

    def take_overflow(self) -> int:
        """Count the holes dropped by `hole_cap` as gaps; returns how many were added."""
        n = self.overflow
        self.overflow = 0
        self.gaps += n
        return n

    def resolve(self, expected: Iterable[int] = (), gaps: Iterable[int] = ()) -> tuple[int, int]:
        """Settle pending holes; ids no longer pending (they arrived late) are ignored.

        Returns:
            (gaps added, expected holes added).
        """
        pending = self._pending
        if not isinstance(pending, set):
            return 0, 0
        n_exp = 0
        for eid in expected:
            if eid in pending:
                pending.remove(eid)
                n_exp += 1
        n_gap = self._settle(pending, gaps)
        self.gaps += n_gap
        self.holes_expected += n_exp
        return n_gap, n_exp

    def give_up(self, ids: Iterable[int]) -> int:
        """Pending holes the audit could not settle: counted as `unaudited`, not as gaps; returns how many."""
        pending = self._pending
        if not isinstance(pending, set):
            return 0
        n = self._settle(pending, ids)
        self.unaudited += n
        return n

    def _settle(self, pending: set[int], ids: Iterable[int]) -> int:
        """Take `ids` out of `pending`, remembering them (up to ``missing_cap``) so that a late arrival is still
        out-of-order; returns how many were pending."""
        n = 0
        missing = self._missing
        for eid in ids:
            if eid in pending:
                pending.remove(eid)
                n += 1
                if len(missing) < self.missing_cap:
                    if not isinstance(missing, set):
                        missing = self._missing = set()
                    missing.add(eid)
        return n

    def pending_ids(self) -> list[int]:
        """The pending ids, sorted (for an audit that lost its batch)."""
        return sorted(self._pending)


def audit_holes(
    holes: Collection[int],
    events: Iterable[Any],
    phase: str,
    state_seen: bool = True,
) -> tuple[set[int], set[int]]:
    """Sort holes into (expected, gaps) given the server's stored events (REST, unfiltered).

    Args:
        holes: the hole ids taken at one quiet point.
        events: stored event dicts covering those ids (extra events are ignored).
        phase: `PHASE_REPLAY` if the holes opened during a replay, else `PHASE_LIVE`.
        state_seen: for a replay, whether the replay delivered an ``agent_state_changed``. If not, the
            newest state event among the holes should have been sent and is a gap.

    A hole the server has no event for is a gap (ids are dense; nothing explains it).
    """
    hole_set = set(holes)
    expected: set[int] = set()
    newest_state = -1
    replay = phase == PHASE_REPLAY
    for ev in events:
        c = classify(ev)
        eid = c.id
        if eid is None or eid not in hole_set:
            continue
        kind = c.kind
        if kind is EventKind.NULL:
            expected.add(eid)
        elif replay:
            if kind is EventKind.AGENT_STATE:
                expected.add(eid)
                newest_state = max(newest_state, eid)
            elif kind is EventKind.RECALL:
                expected.add(eid)
        elif c.source == "environment" and kind not in _LIVE_FORWARDED_ENV:
            expected.add(eid)
    if replay and not state_seen and newest_state >= 0:
        expected.discard(newest_state)
    gaps = hole_set - expected
    return expected, gaps
