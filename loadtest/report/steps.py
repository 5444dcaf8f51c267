"""Load steps and their steady-state seconds (pure).

A step is a stretch of the run at one load level (user count and/or offered action rate). Steps come
from `run.json` ``steps`` when the harness wrote them, else from the timeline's ``step`` field, else
they are inferred from changes in user count and offered rate. Within a step only *steady* seconds
feed per-step figures: the user count has reached the step's target and a short settle time has
passed, so ramp windows never dilute a step's throughput or latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadtest.steps import StepRecord
from loadtest.timeline import Second

__all__ = ["MIN_STEP_S", "SETTLE_S", "Step", "find_steps", "steady_seconds", "step_seconds"]

SETTLE_S = 5
"""Seconds trimmed from the start of a step (at most a quarter of the step) before it counts as steady."""
MIN_STEP_S = 3
"""Inferred constant-load stretches shorter than this are ramps, folded into the step that follows."""


@dataclass(frozen=True, slots=True)
class Step:
    """One load level as the report sees it: seconds ``start_t`` to ``end_t`` (inclusive) at ``users`` /
    ``offered_rate``, from ``source``. A ``run.json`` step is the harness's :class:`~loadtest.steps.StepRecord`
    resolved against the timeline; the others are found in the timeline itself."""

    index: int
    start_t: int
    end_t: int
    users: int
    offered_rate: float
    source: str  # "run.json", "timeline" or "inferred"

    @property
    def duration_s(self) -> int:
        return self.end_t - self.start_t + 1


def _from_run_json(rows: Sequence[object], last_t: int) -> list[Step]:
    """The harness's :class:`~loadtest.steps.StepRecord` entries, resolved: an open end is the last second,
    a missing user count or offered rate is 0, and no step runs past the next one's start."""
    read = (StepRecord.from_dict(row) for row in rows)
    starts = sorted((r.start_t, n) for n, r in enumerate(read) if r is not None)
    records = [r for i, (_, n) in enumerate(starts) if (r := StepRecord.from_dict(rows[n], i)) is not None]
    out: list[Step] = []
    for i, rec in enumerate(records):
        end = rec.end_t if rec.end_t is not None else last_t
        if i + 1 < len(records):
            end = min(end, records[i + 1].start_t - 1)
        out.append(
            Step(
                index=rec.index,
                start_t=rec.start_t,
                end_t=max(rec.start_t, end),
                users=rec.users or 0,
                offered_rate=rec.offered_rate or 0.0,
                source="run.json",
            )
        )
    return out


def _mode(values: Sequence[float]) -> float:
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=lambda v: (counts[v], v))


def _from_timeline_field(seconds: Sequence[Second]) -> list[Step]:
    groups: list[list[Second]] = []
    for s in seconds:
        if groups and groups[-1][-1].step == s.step:
            groups[-1].append(s)
        else:
            groups.append([s])
    return [
        Step(
            index=g[0].step if g[0].step is not None else i,
            start_t=g[0].t,
            end_t=g[-1].t,
            users=int(_mode([s.users for s in g])),
            offered_rate=round(sum(s.offered_rate for s in g) / len(g), 3),  # a measured gauge: noisy
            source="timeline",
        )
        for i, g in enumerate(groups)
    ]


def _inferred(seconds: Sequence[Second]) -> list[Step]:
    runs: list[list[Second]] = []
    for s in seconds:
        prev = runs[-1][-1] if runs else None
        if prev is not None and (prev.users, prev.offered_rate) == (s.users, s.offered_rate):
            runs[-1].append(s)
        else:
            runs.append([s])
    steps: list[Step] = []
    pending_start: int | None = None  # start of ramp seconds waiting for the next real step
    for i, run in enumerate(runs):
        short = len(run) < MIN_STEP_S
        if short and i + 1 < len(runs):
            pending_start = run[0].t if pending_start is None else pending_start
            continue
        if short and steps:  # a short tail (ramp-down, last partial second) extends the last step
            last = steps[-1]
            steps[-1] = Step(last.index, last.start_t, run[-1].t, last.users, last.offered_rate, last.source)
            continue
        start = pending_start if pending_start is not None else run[0].t
        pending_start = None
        steps.append(
            Step(len(steps), start, run[-1].t, run[0].users, run[0].offered_rate, source="inferred"),
        )
    return steps


def find_steps(seconds: Sequence[Second], run_steps: object = None) -> list[Step]:
    """The run's load steps, in time order (empty when there are no seconds and no declared steps)."""
    last_t = seconds[-1].t if seconds else 0
    if isinstance(run_steps, list) and run_steps:
        declared = _from_run_json(run_steps, last_t)
        if declared:
            return declared
    if not seconds:
        return []
    if any(s.step is not None for s in seconds):
        return _from_timeline_field(seconds)
    return _inferred(seconds)


def step_seconds(step: Step, seconds: Sequence[Second]) -> list[Second]:
    """Every recorded second of ``step`` (ramp included)."""
    return [s for s in seconds if step.start_t <= s.t <= step.end_t]


def steady_seconds(step: Step, seconds: Sequence[Second], settle_s: int = SETTLE_S) -> list[Second]:
    """The seconds of ``step`` at steady state: settle time trimmed, user count at the step's target.

    When no second reaches the declared user count (workers rounding, a shape that never got there),
    the user-count condition is dropped rather than leaving the step empty.
    """
    inside = step_seconds(step, seconds)
    trim = min(settle_s, step.duration_s // 4)
    settled = [s for s in inside if s.t >= step.start_t + trim]
    if step.users > 0:
        at_target = [s for s in settled if s.users == step.users]
        if at_target:
            return at_target
    return settled
