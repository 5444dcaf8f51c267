"""Step and search maths of the load shapes (pure: no Locust, no I/O).

A shape reads ``--shape-steps`` (``N[@DURATION]`` items, e.g. ``10,20,40@60s``; the duration defaults
to ``--step-duration``) into :class:`PlannedStep` values and turns run time into a :class:`Tick`: the users
wanted now, the spawn rate and the step index. :class:`StepSearch` is the state machine of the two
searches (capacity, throttle onset): it walks the steps, asks a judge for each step's verdict over its
steady part and stops after the first failing step. The Locust shapes in ``shapes.py`` sit on top.

These are *planned* steps (:class:`PlannedStep`: a value held for a duration); the steps a run actually
went through are :class:`loadtest.steps.StepRecord` (start and end second, users, offered rate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from loadtest.units import parse_duration

__all__ = [
    "HELD_SHARE",
    "Judgement",
    "PlannedStep",
    "SearchOutcome",
    "StepSearch",
    "StepVerdict",
    "Tick",
    "capacity_result",
    "held_conversations",
    "parse_steps",
    "ramp_at",
    "spike_at",
    "step_at",
    "throttle_judgement",
    "throttle_onset",
]

#: A capacity step holds its N conversations only if this share of them had a connected socket, on average over
#: the judged seconds: users backing off after evictions or refusals are conversations the server did not hold.
HELD_SHARE = 0.99


@dataclass(frozen=True)
class PlannedStep:
    """One item of ``--shape-steps``: a value (users, or an offered rate) held/reached over ``duration`` s."""

    value: float
    duration: float


@dataclass(frozen=True)
class Tick:
    """What a shape wants now: users, spawn rate, and which step it is in (0-based)."""

    users: int
    spawn_rate: float
    step: int


def parse_steps(text: str, default_duration: float) -> tuple[PlannedStep, ...]:
    """``'10,20@60s,40'`` → Steps; ``ValueError`` explains the form."""
    steps: list[PlannedStep] = []
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
        steps.append(PlannedStep(value, duration))
    if not steps:
        raise ValueError("no steps given: expected e.g. 10,20,40 or 10@30s,20@60s")
    return tuple(steps)


def _locate(t: float, steps: Sequence[PlannedStep]) -> tuple[int, float] | None:
    """(index of the step containing ``t``, time since that step began), or None after the last."""
    start = 0.0
    for i, step in enumerate(steps):
        if t < start + step.duration:
            return i, t - start
        start += step.duration
    return None


def step_at(t: float, steps: Sequence[PlannedStep], spawn_rate: float) -> Tick | None:
    """Hold each step's user count for its duration; None after the last step."""
    where = _locate(t, steps)
    if where is None:
        return None
    i, _ = where
    return Tick(round(steps[i].value), spawn_rate, i)


def ramp_at(t: float, steps: Sequence[PlannedStep], min_spawn_rate: float = 1.0) -> Tick | None:
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


def spike_at(t: float, steps: Sequence[PlannedStep]) -> Tick | None:
    """Like :func:`step_at`, but each change completes within a second (spawn rate = the jump)."""
    where = _locate(t, steps)
    if where is None:
        return None
    i, _ = where
    prev = steps[i - 1].value if i else 0.0
    jump = abs(steps[i].value - prev)
    return Tick(round(steps[i].value), max(1.0, jump), i)


# -- searches ------------------------------------------------------------------------------------

#: A judge's answer for one step: (passed, detail written to run.json).
Judgement = tuple[bool, dict[str, object]]
#: A judge answers for a window [start_t, end_t) of run time: None while its data is not yet complete.
Evaluator = Callable[[float, float], "Judgement | None"]


@dataclass(frozen=True)
class StepVerdict:
    """The verdict on one search step, as run.json lists it (``capacity.steps``, ``throttle_search``)."""

    index: int
    value: float
    ok: bool
    detail: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "value": self.value, "ok": self.ok, **self.detail}


@dataclass(frozen=True)
class SearchOutcome:
    """Where a search stopped: the last good step and the first failing one (None if none failed)."""

    last_good: int | None
    first_bad: int | None
    detail: dict[str, object]


class StepSearch:
    """Step through values, judge each step on its steady part, stop after the first failing one.

    Pure state machine for ``CapacitySearchShape`` (values are users, the judge is the SLOs) and
    ``ThrottleSearchShape`` (values are offered rates, the judge is the throttle ratio). After each
    step's duration it holds the load until the evaluator has complete data (at most ``max_wait``
    seconds), then moves on or stops.
    """

    def __init__(
        self, steps: Sequence[PlannedStep], *, warmup: float, max_wait: float = 10.0, max_settle: float = 60.0
    ) -> None:
        self.steps = tuple(steps)
        self.warmup = warmup
        self.max_wait = max_wait
        self.max_settle = max_settle
        self.settling_since: float | None = None
        self.settled_index = -1
        self.index = 0
        self.step_start = 0.0
        self.last_good: int | None = None
        self.first_bad: int | None = None
        self.detail: dict[str, object] = {}
        self.verdicts: list[StepVerdict] = []
        self.done = False

    @property
    def value(self) -> float:
        """The value (users or offered rate) of the step the search is in."""
        return self.steps[self.index].value

    def window(self) -> tuple[float, float]:
        """The judged part of the current step: its run time without the warm-up (at most half the step)."""
        step = self.steps[self.index]
        skip = min(self.warmup, step.duration / 2)
        return self.step_start + skip, self.step_start + step.duration

    def advance(self, t: float, evaluate: Evaluator, settled: bool = True) -> int | None:
        """The step index to apply at run time ``t``, or None when the search is over.

        ``settled`` is False while the step's load is still being put in place (users spawning): the
        step's clock starts only once it is, for at most ``max_settle`` seconds of waiting.
        """
        if self.done:
            return None
        if self.settled_index != self.index:
            if not settled:
                if self.settling_since is None:
                    self.settling_since = t
                if t - self.settling_since < self.max_settle:
                    return self.index
            if self.settling_since is not None:
                self.step_start = t  # the step's clock starts now that its load is in place
            self.settling_since = None
            self.settled_index = self.index
        step = self.steps[self.index]
        end = self.step_start + step.duration
        if t < end:
            return self.index
        start_w, end_w = self.window()
        verdict = evaluate(start_w, end_w)
        if verdict is None and t < end + self.max_wait:
            return self.index  # hold the load until the step's data is complete
        passed, detail = verdict if verdict is not None else (False, {"error": "no data for the step"})
        self.verdicts.append(StepVerdict(self.index, step.value, passed, dict(detail)))
        if passed:
            self.last_good = self.index
            if self.index + 1 >= len(self.steps):
                self.done = True
                return None
            self.index += 1
            self.step_start = t
            return self.index
        self.first_bad = self.index
        self.detail = dict(detail)
        self.done = True
        return None

    def outcome(self) -> SearchOutcome:
        return SearchOutcome(self.last_good, self.first_bad, dict(self.detail))

    def verdict_dicts(self) -> list[dict[str, object]]:
        return [v.to_dict() for v in self.verdicts]


def held_conversations(sockets_per_second: Sequence[float]) -> float:
    """Mean connected sockets over the judged seconds (0 when there were none)."""
    return sum(sockets_per_second) / len(sockets_per_second) if sockets_per_second else 0.0


def throttle_judgement(throttled: Mapping[str, float], actions: float, threshold: float) -> Judgement:
    """A throttle-search step passes while throttle signals stay within ``threshold`` of the actions sent.

    ``throttled`` counts each signal over the step; the detail names the main one.
    """
    total = sum(throttled.values())
    ratio = total / max(actions, 1)
    signal = max(throttled, key=lambda k: throttled[k]) if throttled else None
    detail: dict[str, object] = {
        "actions": actions,
        "throttled": total,
        "throttle_ratio": round(ratio, 6),
        "signal": signal,
    }
    return ratio <= threshold, detail


def capacity_result(search: StepSearch, slos: Sequence[str]) -> dict[str, object]:
    """run.json ``capacity``: the most conversations (users) within the SLOs, the first count that broke them."""
    out = search.outcome()
    good = search.steps[out.last_good].value if out.last_good is not None else 0
    bad = search.steps[out.first_bad].value if out.first_bad is not None else None
    return {
        "max_conversations_within_slo": int(good),
        "first_failing_conversations": int(bad) if bad is not None else None,
        "slo": list(slos),
        "steps": search.verdict_dicts(),
    }


def throttle_onset(
    search: StepSearch, step_start_t: float | None, throttled: Iterable[tuple[float, float]]
) -> dict[str, object] | None:
    """run.json ``throttle_onset``: the first failing offered rate, its main signal and when it first appeared.

    ``step_start_t`` is the run time the failing step began; ``throttled`` gives (run time, throttle
    signals) per second. None while no step failed.
    """
    out = search.outcome()
    if out.first_bad is None or step_start_t is None:
        return None
    at = next((t for t, count in throttled if t >= step_start_t and count), step_start_t)
    return {
        "offered_rate": search.steps[out.first_bad].value,
        "signal": out.detail.get("signal"),
        "at_s": at,
        "throttle_ratio": out.detail.get("throttle_ratio"),
        "step_start_s": step_start_t,
    }
