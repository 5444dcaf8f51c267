"""Throttle onset: the lowest load at which each throttle signal passes a threshold (pure).

Steps are ordered by load (offered action rate when the shape set one, else user count). A signal
*passes* in a step when it was seen at least ``min_count`` times and on at least ``min_ratio`` of the
step's operations (actions + connect attempts + REST calls, ramp included). Its onset is the
lowest-load step where it passes, with the first second of that step that carried the signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadtest.report.analysis import StepStats

__all__ = ["MIN_COUNT", "MIN_RATIO", "Onset", "first_onset", "throttle_onsets"]

MIN_RATIO = 0.01
"""A signal on at least 1 % of a step's operations counts as throttling."""
MIN_COUNT = 2
"""… and at least this many times, so one stray 429 is not an onset."""


@dataclass(frozen=True, slots=True)
class Onset:
    """Where one throttle signal started."""

    signal: str
    step_index: int
    users: int
    offered_rate: float  # the shape's offered rate, else the measured action rate of the step
    load: float  # what steps are ordered by (offered rate, or users)
    load_kind: str  # "offered_rate" or "users"
    at_s: int
    count: int
    ratio: float


def throttle_onsets(
    steps: Sequence[StepStats], min_ratio: float = MIN_RATIO, min_count: int = MIN_COUNT
) -> list[Onset]:
    """One :class:`Onset` per signal that passed the threshold somewhere, lowest load first."""
    by_rate = any(st.step.offered_rate > 0 for st in steps)
    ordered = sorted(steps, key=lambda st: (st.load, st.step.start_t))
    onsets: dict[str, Onset] = {}
    for st in ordered:
        ops = max(st.operations, 1)
        for signal, count in st.throttled.items():
            if signal in onsets or count < min_count or count / ops < min_ratio:
                continue
            measured = st.actions / st.seconds if st.seconds else 0.0
            onsets[signal] = Onset(
                signal=signal,
                step_index=st.step.index,
                users=st.step.users,
                offered_rate=st.step.offered_rate if st.step.offered_rate > 0 else round(measured, 3),
                load=st.load,
                load_kind="offered_rate" if by_rate else "users",
                at_s=st.first_signal_t.get(signal, st.step.start_t),
                count=count,
                ratio=count / ops,
            )
    return sorted(onsets.values(), key=lambda o: (o.load, o.at_s, o.signal))


def first_onset(onsets: Sequence[Onset]) -> Onset | None:
    """The signal that appeared at the lowest load (earliest second on ties)."""
    return min(onsets, key=lambda o: (o.load, o.at_s, o.signal), default=None)
