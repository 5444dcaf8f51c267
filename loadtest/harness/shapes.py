"""Load shapes: pure step/ramp/spike/search functions of run time, and the Locust shapes built on them.

All shapes read ``--shape-steps`` (``N[@DURATION]`` items, e.g. ``10,20,40@60s``; the duration
defaults to ``--step-duration``). ``StepShape`` holds each user count for its duration,
``RampShape`` moves linearly from the previous count (0 at first) to each count over its duration,
``SpikeShape`` jumps between counts within one second, ``CapacitySearchShape`` steps users up and
stops after the first step whose SLOs fail (recording the last good step) and ``ThrottleSearchShape``
holds ``--throttle-users`` paced users and steps their total offered action rate (the step values)
until throttle signals exceed ``--throttle-threshold`` of the actions (recording the onset).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from loadtest.harness.units import parse_duration

__all__ = [
    "SearchOutcome",
    "Step",
    "StepSearch",
    "Tick",
    "parse_steps",
    "ramp_at",
    "spike_at",
    "step_at",
]


@dataclass(frozen=True)
class Step:
    """One item of ``--shape-steps``: a value (users, or an offered rate) held/reached over ``duration`` s."""

    value: float
    duration: float


@dataclass(frozen=True)
class Tick:
    """What a shape wants now: users, spawn rate, and which step it is in (0-based)."""

    users: int
    spawn_rate: float
    step: int


def parse_steps(text: str, default_duration: float) -> tuple[Step, ...]:
    """``'10,20@60s,40'`` → Steps; ``ValueError`` explains the form."""
    steps: list[Step] = []
    for item in (p.strip() for p in str(text).replace(";", ",").split(",")):
        if not item:
            continue
        value_text, at, duration_text = item.partition("@")
        try:
            value = float(value_text)
            duration = parse_duration(duration_text) if at else default_duration
        except ValueError:
            raise ValueError(f"bad step {item!r}: expected N or N@DURATION, e.g. 10,20@60s,40") from None
        if value < 0 or duration <= 0 or math.isnan(value):
            raise ValueError(f"bad step {item!r}: values must be ≥ 0 and durations > 0, e.g. 10,20@60s,40")
        steps.append(Step(value, duration))
    if not steps:
        raise ValueError("no steps given: expected e.g. 10,20,40 or 10@30s,20@60s")
    return tuple(steps)


def _locate(t: float, steps: Sequence[Step]) -> tuple[int, float] | None:
    """(index of the step containing ``t``, time since that step began), or None after the last."""
    start = 0.0
    for i, step in enumerate(steps):
        if t < start + step.duration:
            return i, t - start
        start += step.duration
    return None


def step_starts(steps: Sequence[Step]) -> list[float]:
    out, start = [], 0.0
    for step in steps:
        out.append(start)
        start += step.duration
    return out


def step_at(t: float, steps: Sequence[Step], spawn_rate: float) -> Tick | None:
    """Hold each step's user count for its duration; None after the last step."""
    where = _locate(t, steps)
    if where is None:
        return None
    i, _ = where
    return Tick(round(steps[i].value), spawn_rate, i)


def ramp_at(t: float, steps: Sequence[Step], min_spawn_rate: float = 1.0) -> Tick | None:
    """Linear from the previous value (0 before the first) to each step's value over its duration."""
    where = _locate(t, steps)
    if where is None:
        return None
    i, into = where
    prev = steps[i - 1].value if i else 0.0
    step = steps[i]
    users = prev + (step.value - prev) * min(into / step.duration, 1.0)
    slope = abs(step.value - prev) / step.duration
    return Tick(round(users), max(min_spawn_rate, math.ceil(slope * 2)), i)


def spike_at(t: float, steps: Sequence[Step]) -> Tick | None:
    """Like :func:`step_at`, but each change completes within a second (spawn rate = the jump)."""
    where = _locate(t, steps)
    if where is None:
        return None
    i, _ = where
    prev = steps[i - 1].value if i else 0.0
    jump = abs(steps[i].value - prev)
    return Tick(round(steps[i].value), max(1.0, jump), i)


@dataclass(frozen=True)
class SearchOutcome:
    """Where a search stopped: the last good step and the first failing one (None if none failed)."""

    last_good: int | None
    first_bad: int | None
    detail: dict[str, Any]


# An evaluator answers for a window [start_t, end_t) of run time: None while its data is not yet
# complete, else (passed, detail).
Evaluator = Callable[[float, float], "tuple[bool, dict[str, Any]] | None"]


class StepSearch:
    """Step through values, judge each step on its steady part, stop after the first failing one.

    Pure state machine for ``CapacitySearchShape`` (values are users, the judge is the SLOs) and
    ``ThrottleSearchShape`` (values are offered rates, the judge is the throttle ratio). After each
    step's duration it holds the load until the evaluator has complete data (at most ``max_wait``
    seconds), then moves on or stops.
    """

    def __init__(self, steps: Sequence[Step], *, warmup: float, max_wait: float = 10.0) -> None:
        self.steps = tuple(steps)
        self.warmup = warmup
        self.max_wait = max_wait
        self.index = 0
        self.step_start = 0.0
        self.last_good: int | None = None
        self.first_bad: int | None = None
        self.detail: dict[str, Any] = {}
        self.verdicts: list[dict[str, Any]] = []
        self.done = False

    def window(self) -> tuple[float, float]:
        step = self.steps[self.index]
        skip = min(self.warmup, step.duration / 2)
        return self.step_start + skip, self.step_start + step.duration

    def advance(self, t: float, evaluate: Evaluator) -> int | None:
        """The step index to apply at run time ``t``, or None when the search is over."""
        if self.done:
            return None
        step = self.steps[self.index]
        end = self.step_start + step.duration
        if t < end:
            return self.index
        start_w, end_w = self.window()
        verdict = evaluate(start_w, end_w)
        if verdict is None and t < end + self.max_wait:
            return self.index  # hold the load until the step's data is complete
        passed, detail = verdict if verdict is not None else (False, {"error": "no data for the step"})
        self.verdicts.append({"index": self.index, "value": step.value, "ok": passed, **detail})
        if passed:
            self.last_good = self.index
            if self.index + 1 >= len(self.steps):
                self.done = True
                return None
            self.index += 1
            self.step_start = t
            return self.index
        self.first_bad = self.index
        self.detail = detail
        self.done = True
        return None

    def outcome(self) -> SearchOutcome:
        return SearchOutcome(self.last_good, self.first_bad, dict(self.detail))
