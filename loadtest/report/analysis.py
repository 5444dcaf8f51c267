"""The report's pure maths over timeline seconds: percentiles, throughput, per-step figures, recovery,
integrity, disconnect taxonomy and load-generator health.

Every function takes plain data (:class:`~loadtest.timeline.Second` records, steps) and returns
plain data; nothing here reads files or draws. Throttle onset, capacity and run comparison live in
``throttle.py``, ``capacity.py`` and ``compare.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from loadtest.histogram import Histogram
from loadtest.report.steps import SETTLE_S, Step, steady_seconds, step_seconds
from loadtest.timeline import METRICS, Second

__all__ = [
    "CPU_PERCENT_LIMIT",
    "LOOP_LAG_LIMIT_MS",
    "PERCENTILES",
    "HealthWindow",
    "MetricStats",
    "Recovery",
    "StepStats",
    "Throughput",
    "WindowStats",
    "default_window_s",
    "health_windows",
    "merge_metrics",
    "metric_order",
    "metric_stats",
    "recovery",
    "step_stats",
    "sum_counter",
    "sum_map",
    "throughput",
    "windows",
]

PERCENTILES = (50.0, 90.0, 95.0, 99.0)
LOOP_LAG_LIMIT_MS = 50.0
"""A gevent loop lag above this means the generator, not the server, may be what is slow."""
CPU_PERCENT_LIMIT = 90.0
"""Generator CPU at or above this (per worker, as recorded) flags the second."""
_METRIC_ORDER = METRICS


@dataclass(frozen=True, slots=True)
class MetricStats:
    """Latency figures of one metric over some seconds (ms; ``None`` when there were no samples)."""

    count: int = 0
    failures: int = 0
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None

    def get(self, stat: str) -> float | None:
        """``"p95"``, ``"p99.9"``, ``"max"``, ``"mean"``, ``"min"``, ``"count"``, ``"failures"`` → value."""
        if stat in ("count", "failures"):
            return float(getattr(self, stat))
        if stat in ("max", "mean"):
            return getattr(self, f"{stat}_ms")  # type: ignore[no-any-return]
        return getattr(self, f"{stat}_ms", None)


def metric_order(names: Iterable[str]) -> list[str]:
    """Metric names in DESIGN §3 order (``*_co`` right after their base metric), others alphabetically."""

    def key(name: str) -> tuple[int, str, int]:
        base = name.removesuffix("_co")
        rank = _METRIC_ORDER.index(base) if base in _METRIC_ORDER else len(_METRIC_ORDER)
        return rank, base, int(name.endswith("_co"))

    return sorted(set(names), key=key)


def merge_metrics(seconds: Iterable[Second]) -> dict[str, Histogram]:
    """Per metric, the histogram of every sample in ``seconds``."""
    out: dict[str, Histogram] = {}
    for s in seconds:
        for name, h in s.metrics.items():
            out.setdefault(name, Histogram()).merge(h)
    return out


def sum_map(seconds: Iterable[Second], attr: str) -> dict[str, int]:
    """Sum a counter map (``throttled``, ``disconnects``, ``errors``, ``failures``) over ``seconds``."""
    out: dict[str, int] = {}
    for s in seconds:
        for k, v in getattr(s, attr).items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def sum_counter(seconds: Iterable[Second], attr: str) -> int:
    return sum(int(getattr(s, attr)) for s in seconds)


def metric_stats(h: Histogram | None, failures: int = 0) -> MetricStats:
    if h is None or not h.count:
        return MetricStats(count=0, failures=failures)
    p = h.percentiles(PERCENTILES)
    return MetricStats(
        count=h.count,
        failures=failures,
        p50_ms=p[50.0],
        p90_ms=p[90.0],
        p95_ms=p[95.0],
        p99_ms=p[99.0],
        max_ms=h.max,
        mean_ms=h.mean,
    )


def all_metric_stats(seconds: Sequence[Second]) -> dict[str, MetricStats]:
    """Per metric (with samples or failures) over ``seconds``, in DESIGN §3 order."""
    hists = merge_metrics(seconds)
    failures = sum_map(seconds, "failures")
    return {m: metric_stats(hists.get(m), failures.get(m, 0)) for m in metric_order([*hists, *failures])}


@dataclass(frozen=True, slots=True)
class Throughput:
    """Mean rates per second over some seconds."""

    seconds: int = 0
    actions_per_s: float = 0.0
    events_per_s: float = 0.0
    bytes_per_s: float = 0.0
    turns_per_s: float = 0.0


def throughput(seconds: Sequence[Second]) -> Throughput:
    n = len(seconds)
    if not n:
        return Throughput()
    return Throughput(
        seconds=n,
        actions_per_s=sum_counter(seconds, "actions") / n,
        events_per_s=sum_counter(seconds, "events") / n,
        bytes_per_s=sum_counter(seconds, "bytes") / n,
        turns_per_s=sum_counter(seconds, "turns") / n,
    )


def default_window_s(duration_s: int) -> int:
    """Window length for time series: 5 s for short runs, growing so a plot has at most ~120 points."""
    return max(5, math.ceil(duration_s / 120))


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Figures of one time window ``[start_t, end_t]``."""

    start_t: int
    end_t: int
    metrics: dict[str, MetricStats]
    rates: Throughput
    throttled: dict[str, int]
    disconnects: dict[str, int]

    @property
    def mid_t(self) -> float:
        return (self.start_t + self.end_t + 1) / 2


def windows(seconds: Sequence[Second], window_s: int) -> list[WindowStats]:
    """Consecutive windows of ``window_s`` seconds aligned on ``t = 0`` (only windows with data)."""
    groups: dict[int, list[Second]] = {}
    for s in seconds:
        groups.setdefault(s.t // window_s, []).append(s)
    return [
        WindowStats(
            start_t=k * window_s,
            end_t=k * window_s + window_s - 1,
            metrics=all_metric_stats(g),
            rates=throughput(g),
            throttled=sum_map(g, "throttled"),
            disconnects=sum_map(g, "disconnects"),
        )
        for k, g in sorted(groups.items())
    ]


@dataclass(frozen=True, slots=True)
class StepStats:
    """One load step: its steady-state figures, plus throttle counts over the whole step."""

    step: Step
    seconds: int
    steady_seconds: int
    conversations: float
    sockets: float
    in_flight: float
    rates: Throughput
    metrics: dict[str, MetricStats]
    actions: int  # whole step, ramp included
    operations: int  # actions + connects + REST calls, whole step (denominator of throttle shares)
    throttled: dict[str, int]  # whole step
    first_signal_t: dict[str, int]  # first second of the step with each throttle signal
    failures: dict[str, int]  # steady seconds
    steady_t: tuple[int, ...] = ()  # the steady seconds themselves (capacity re-reads them)
    health_flagged: bool = False

    @property
    def load(self) -> float:
        """The offered rate when the shape set one, else the user count."""
        return self.step.offered_rate if self.step.offered_rate > 0 else float(self.step.users)


def _mean_gauge(seconds: Sequence[Second], name: str) -> float:
    return sum(s.gauge(name) for s in seconds) / len(seconds) if seconds else 0.0


def step_stats(
    steps: Sequence[Step], seconds: Sequence[Second], flagged_t: Iterable[int] = (), settle_s: int = SETTLE_S
) -> list[StepStats]:
    """Per step figures; ``flagged_t`` are seconds where the generator itself was unhealthy.

    ``settle_s`` is the warm-up trimmed from each step (the harness's ``--step-warmup``).
    """
    flagged = set(flagged_t)
    out: list[StepStats] = []
    for step in steps:
        inside = step_seconds(step, seconds)
        steady = steady_seconds(step, seconds, settle_s)
        conversations = _mean_gauge(steady, "conversations")
        if not conversations and steady:
            conversations = sum(s.users for s in steady) / len(steady)
        first: dict[str, int] = {}
        for s in inside:
            for kind, n in s.throttled.items():
                if n and kind not in first:
                    first[kind] = s.t
        out.append(
            StepStats(
                step=step,
                seconds=len(inside),
                steady_seconds=len(steady),
                conversations=conversations,
                sockets=_mean_gauge(steady, "sockets"),
                in_flight=_mean_gauge(steady, "turns_in_flight"),
                rates=throughput(steady),
                metrics=all_metric_stats(steady),
                actions=sum_counter(inside, "actions"),
                operations=sum(s.operations for s in inside),
                throttled=sum_map(inside, "throttled"),
                first_signal_t=first,
                failures=sum_map(steady, "failures"),
                steady_t=tuple(s.t for s in steady),
                health_flagged=any(s.t in flagged for s in steady),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Recovery:
    """Reconnect recovery and resync: distributions and the counts around them."""

    reconnect: MetricStats
    resync: MetricStats
    reconnect_hist: Histogram
    resync_hist: Histogram
    disconnects: int
    reconnect_failures: int

    @property
    def recovered_ratio(self) -> float | None:
        """Reconnects that succeeded per disconnect (``None`` without disconnects)."""
        return min(1.0, self.reconnect.count / self.disconnects) if self.disconnects else None


def recovery(seconds: Sequence[Second]) -> Recovery:
    hists = merge_metrics(seconds)
    failures = sum_map(seconds, "failures")
    rc = hists.get("reconnect", Histogram())
    rs = hists.get("resync", Histogram())
    disconnects = sum(v for k, v in sum_map(seconds, "disconnects").items() if k not in ("client",))
    return Recovery(
        reconnect=metric_stats(rc, failures.get("reconnect", 0)),
        resync=metric_stats(rs, failures.get("resync", 0)),
        reconnect_hist=rc,
        resync_hist=rs,
        disconnects=disconnects,
        reconnect_failures=failures.get("reconnect", 0),
    )


@dataclass(frozen=True, slots=True)
class HealthWindow:
    """A stretch of consecutive seconds where the load generator itself looked saturated."""

    start_t: int
    end_t: int
    max_loop_lag_ms: float
    max_cpu_percent: float
    lost_workers: int
    reasons: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> int:
        return self.end_t - self.start_t + 1


def _unhealthy(s: Second, lag_limit: float, cpu_limit: float) -> list[str]:
    reasons = []
    if s.health_of("loop_lag_ms") > lag_limit:
        reasons.append(f"loop lag > {lag_limit:g} ms")
    if s.health_of("cpu_percent") >= cpu_limit:
        reasons.append(f"CPU ≥ {cpu_limit:g}%")
    if s.health_of("lost_workers") > 0:
        reasons.append("lost workers")
    return reasons


def health_windows(
    seconds: Sequence[Second],
    lag_limit_ms: float = LOOP_LAG_LIMIT_MS,
    cpu_limit_percent: float = CPU_PERCENT_LIMIT,
) -> list[HealthWindow]:
    """Windows (runs of consecutive flagged seconds) where the generator's results are suspect."""
    out: list[HealthWindow] = []
    for s in seconds:
        reasons = _unhealthy(s, lag_limit_ms, cpu_limit_percent)
        if not reasons:
            continue
        lag = s.health_of("loop_lag_ms")
        cpu = s.health_of("cpu_percent")
        lost = int(s.health_of("lost_workers"))
        if out and out[-1].end_t == s.t - 1:
            w = out[-1]
            merged = list(dict.fromkeys([*w.reasons, *reasons]))
            out[-1] = HealthWindow(
                w.start_t,
                s.t,
                max(w.max_loop_lag_ms, lag),
                max(w.max_cpu_percent, cpu),
                max(w.lost_workers, lost),
                merged,
            )
        else:
            out.append(HealthWindow(s.t, s.t, lag, cpu, lost, reasons))
    return out
