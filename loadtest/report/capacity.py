"""Capacity: the most conversations within the SLOs, and the knee where throughput stops growing (pure).

Capacity uses the steady seconds of each load step (ramp windows excluded) and the run's SLO
expressions (``slo.py``); a step is within the SLOs when every objective holds over its steady
seconds. An objective no step could measure (say ``reconnect.p95`` in a run without reconnects) is
left out and named in the notes. The *knee* is the last concurrency before the marginal throughput
per added conversation drops below half of the initial per-conversation throughput. Little's law
(L = λ·W: turns in flight = turns/s × mean turn time) is checked per step as a sanity test of the
measurements.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from loadtest.report.analysis import StepStats
from loadtest.report.slo import Slo, evaluate, parse_slo
from loadtest.timeline import Second

__all__ = [
    "DEFAULT_SLOS",
    "KNEE_EFFICIENCY",
    "Capacity",
    "CapacityPoint",
    "capacity",
    "find_knee",
]

DEFAULT_SLOS = ("failures.ratio<1%", "throttled.ratio<1%")
"""Used for capacity when the run declared no SLO this module can evaluate."""
KNEE_EFFICIENCY = 0.5


@dataclass(frozen=True, slots=True)
class CapacityPoint:
    """One load step seen as (conversations → throughput, latency, SLO)."""

    step_index: int
    conversations: float
    throughput: float
    key_p95_ms: float | None
    within_slo: bool
    slo_values: dict[str, float | None]
    in_flight: float
    littles_predicted: float | None  # turns/s × mean turn time (s)
    health_flagged: bool

    @property
    def littles_ratio(self) -> float | None:
        if not self.littles_predicted or not self.in_flight:
            return None
        return self.in_flight / self.littles_predicted


@dataclass(frozen=True, slots=True)
class Capacity:
    points: list[CapacityPoint]
    max_within_slo: int
    knee: int | None
    slo: str
    throughput_unit: str  # "turns/s" or "actions/s"
    key_metric: str | None
    key_threshold_ms: float | None
    notes: list[str] = field(default_factory=list)


def _steady(st: StepStats, seconds: Sequence[Second]) -> list[Second]:
    wanted = set(st.steady_t)
    return [s for s in seconds if s.t in wanted]


def find_knee(points: Sequence[tuple[float, float]], efficiency: float = KNEE_EFFICIENCY) -> float | None:
    """The concurrency after which throughput stops growing, from ``(conversations, throughput)``.

    ``None`` when the marginal gain never falls below ``efficiency`` × the initial per-conversation
    throughput (the knee was not reached) or there are fewer than two distinct concurrencies.
    """
    pts = sorted((n, x) for n, x in points if n > 0)
    if len(pts) < 2 or pts[0][1] <= 0:
        return None
    base_slope = pts[0][1] / pts[0][0]
    for (n0, x0), (n1, x1) in itertools.pairwise(pts):
        if n1 <= n0:
            continue
        if (x1 - x0) / (n1 - n0) < efficiency * base_slope:
            return n0
    return None


def _key_metric(slos: Sequence[Slo], steps: Sequence[StepStats], seconds: Sequence[Second]) -> str | None:
    """The latency SLO metric closest to (or furthest past) its threshold, else the slowest-turn metric."""
    worst: tuple[float, str] | None = None
    for slo in slos:
        if not slo.is_latency or slo.threshold <= 0:
            continue
        for st in steps:
            value = evaluate(slo, _steady(st, seconds))[0]
            if value is not None and (worst is None or value / slo.threshold > worst[0]):
                worst = (value / slo.threshold, slo.subject)
    if worst is not None:
        return worst[1]
    present = {m for st in steps for m, ms in st.metrics.items() if ms.count}
    for name in ("turn", "first_event", "echo", "connect"):
        if name in present:
            return name
    return min(present, default=None)


def capacity(steps: Sequence[StepStats], seconds: Sequence[Second], exprs: Sequence[str]) -> Capacity | None:
    """Capacity from the load steps; ``None`` unless at least two steps ran at different concurrency."""
    usable = [st for st in steps if st.steady_seconds and st.conversations > 0]
    if len({round(st.conversations) for st in usable}) < 2:
        return None
    notes: list[str] = []
    slos: list[Slo] = [s for s in (parse_slo(e) for e in exprs) if s is not None]
    skipped = [e for e in exprs if parse_slo(e) is None]
    if skipped:
        notes.append("SLOs not evaluated per step (unknown form): " + ", ".join(skipped))
    if not slos:
        slos = [s for s in (parse_slo(e) for e in DEFAULT_SLOS) if s is not None]
        notes.append("No SLO given: capacity uses " + " and ".join(DEFAULT_SLOS) + ".")
    use_turns = any(st.rates.turns_per_s > 0 for st in usable)
    key = _key_metric(slos, usable, seconds)
    key_threshold = next((s.threshold for s in slos if s.subject == key and s.is_latency), None)
    per_step: list[tuple[StepStats, dict[str, tuple[float | None, bool]]]] = []
    for st in usable:
        steady = _steady(st, seconds)
        per_step.append((st, {s.expr: evaluate(s, steady) for s in slos}))
    judged = {e for _, res in per_step for e, (v, _) in res.items() if v is not None}
    unjudged = [s.expr for s in slos if s.expr not in judged]
    if unjudged:
        notes.append("SLOs without samples in any step, left out of capacity: " + ", ".join(unjudged))
    points: list[CapacityPoint] = []
    for st, res in per_step:
        # no samples for an SLO that other steps could measure: the step did not deliver, not within.
        ok = all(good for e, (_, good) in res.items() if e in judged)
        turn = st.metrics.get("turn")
        predicted = st.rates.turns_per_s * turn.mean_ms / 1000.0 if turn and turn.mean_ms else None
        key_stats = st.metrics.get(key) if key else None
        points.append(
            CapacityPoint(
                step_index=st.step.index,
                conversations=st.conversations,
                throughput=st.rates.turns_per_s if use_turns else st.rates.actions_per_s,
                key_p95_ms=key_stats.p95_ms if key_stats else None,
                within_slo=ok,
                slo_values={e: v for e, (v, _) in res.items()},
                in_flight=st.in_flight,
                littles_predicted=predicted,
                health_flagged=st.health_flagged,
            )
        )
    points.sort(key=lambda p: (p.conversations, p.step_index))
    max_within = 0
    for p in points:
        if not p.within_slo:
            break
        max_within = max(max_within, round(p.conversations))
    knee = find_knee([(p.conversations, p.throughput) for p in points])
    off = [p for p in points if p.littles_ratio is not None and abs(p.littles_ratio - 1) > 0.2]
    if off:
        notes.append(
            "Little's law check off by more than 20% at "
            + ", ".join(f"{p.conversations:.0f} conversations (×{p.littles_ratio:.2f})" for p in off)
            + ": the step may not be at steady state."
        )
    if any(p.health_flagged for p in points):
        notes.append("Some steps overlap windows where the load generator was saturated; treat them with care.")
    return Capacity(
        points=points,
        max_within_slo=max_within,
        knee=round(knee) if knee is not None else None,
        slo=" and ".join(s.expr for s in slos),
        throughput_unit="turns/s" if use_turns else "actions/s",
        key_metric=key,
        key_threshold_ms=key_threshold,
        notes=notes,
    )
