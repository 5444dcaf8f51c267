"""Fault decisions as pure functions (the I/O that carries them out lives in sockets.py and agent.py)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Replayed(Protocol):
    """A stored event as replay faults see it (V0's `store.StoredEvent`, V1's `v1.store.StoredEvent`)."""

    @property
    def is_state(self) -> bool: ...


E = TypeVar("E", bound=Replayed)


@dataclass(frozen=True, slots=True)
class ReplayPlan(Generic[E]):
    events: list[E]
    skipped: int
    repeated: int


def faulty_replay(replay: list[E], skip_every: int, repeat_every: int) -> ReplayPlan[E]:
    """Skip every `skip_every`-th and send twice every `repeat_every`-th non-state event of a replay.

    State events are never touched, so a client can tell the fault (a missing or repeated id) from OpenHands'
    legitimate withholding of older state events. Counting runs over the non-state events in replay order,
    1-based; when both hit the same event, the skip wins.
    """
    if skip_every <= 0 and repeat_every <= 0:
        return ReplayPlan(replay, 0, 0)
    out: list[E] = []
    skipped = repeated = 0
    n = 0
    for stored in replay:
        if stored.is_state:
            out.append(stored)
            continue
        n += 1
        if skip_every > 0 and n % skip_every == 0:
            skipped += 1
            continue
        out.append(stored)
        if repeat_every > 0 and n % repeat_every == 0:
            out.append(stored)
            repeated += 1
    return ReplayPlan(out, skipped, repeated)


def pick_drops(candidates: Sequence[T], share: float, rng: random.Random) -> list[T]:
    """A share of the candidates, rounded up when any share is asked (so one connection still gets dropped)."""
    if share <= 0 or not candidates:
        return []
    count = min(len(candidates), math.ceil(len(candidates) * share))
    return rng.sample(list(candidates), count)


def jittered(delay_s: float, jitter: float, rng: random.Random) -> float:
    """`delay_s` exactly when jitter is 0, else uniform in [delay*(1-j), delay*(1+j)]."""
    if jitter <= 0 or delay_s <= 0:
        return delay_s
    return delay_s * (1.0 + rng.uniform(-jitter, jitter))


@dataclass(frozen=True, slots=True)
class EventFault:
    extra_delay_s: float
    stall: bool


def event_fault(n: int, delay_every: int, delay_ms: float, stall_after: int, already_stalled: bool) -> EventFault:
    """Fault for a conversation's `n`-th (1-based) live agent event: extra delay, and/or a stall before it."""
    extra = delay_ms / 1000.0 if delay_every > 0 and delay_ms > 0 and n % delay_every == 0 else 0.0
    stall = stall_after > 0 and not already_stalled and n > stall_after
    return EventFault(extra, stall)
