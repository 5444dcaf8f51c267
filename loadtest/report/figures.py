"""Turn an :class:`~loadtest.report.assemble.Analysis` into the report's figures (one per PNG).

This is the only place that knows both the analysis records and the plot functions' plain inputs.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

from loadtest.report import plots
from loadtest.report.analysis import CPU_PERCENT_LIMIT, LOOP_LAG_LIMIT_MS, merge_metrics
from loadtest.report.assemble import Analysis, search_capacity
from loadtest.timeline import GAUGES

__all__ = ["FIGURES", "make_figure"]


def _step_marks(a: Analysis) -> list[plots.StepMark]:
    marks = []
    for s in a.steps:
        text = f"{s.offered_rate:g}/s" if s.offered_rate > 0 else f"{s.users} users"
        marks.append((float(s.start_t), text))
    return marks


def _t(a: Analysis) -> list[float]:
    return [float(s.t) for s in a.seconds]


def _load(a: Analysis) -> Figure:
    series: dict[str, list[float]] = {"users": [float(s.users) for s in a.seconds]}
    for gauge in GAUGES:
        values = [s.gauge(gauge) for s in a.seconds]
        if any(values):
            series[gauge.replace("_", " ")] = values
    return plots.load_plot(_t(a), series, _step_marks(a))


def _latency_time(a: Analysis) -> Figure:
    per_metric: dict[str, dict[str, list[float | None]]] = {}
    for name in a.metrics:
        if name.endswith("_co") or name in ("reconnect", "resync"):
            continue
        d: dict[str, list[float | None]] = {"t": [], "p50": [], "p95": [], "p99": []}
        for w in a.windows:
            m = w.metrics.get(name)
            if m is None or not m.count:
                continue
            d["t"].append(w.mid_t)
            d["p50"].append(m.p50_ms)
            d["p95"].append(m.p95_ms)
            d["p99"].append(m.p99_ms)
        per_metric[name] = d
    return plots.latency_over_time_plot(per_metric, _step_marks(a))


def _cdf(a: Analysis) -> Figure:
    hists = merge_metrics(a.seconds)
    return plots.latency_cdf_plot({name: hists[name].cdf() for name in a.metrics if name in hists})


def _throughput(a: Analysis) -> Figure:
    rates: dict[str, list[float]] = {"actions/s": [float(s.actions) for s in a.seconds]}
    if any(s.turns for s in a.seconds):
        rates["turns completed/s"] = [float(s.turns) for s in a.seconds]
    rates["events/s"] = [float(s.events) for s in a.seconds]
    return plots.throughput_plot(_t(a), rates, [float(s.bytes) for s in a.seconds], _step_marks(a))


def _throttle(a: Analysis) -> Figure:
    ordered = sorted(a.step_stats, key=lambda st: (st.load, st.step.start_t))
    by_rate = any(st.step.offered_rate > 0 for st in ordered)
    kinds = sorted({k for s in a.seconds for k in s.throttled})
    per_signal = {k: [st.throttled.get(k, 0) / st.seconds if st.seconds else 0.0 for st in ordered] for k in kinds}
    per_second = {k: [float(s.throttled.get(k, 0)) for s in a.seconds] for k in kinds}
    return plots.throttle_plot(
        [st.load for st in ordered],
        per_signal,
        "offered rate (actions/s)" if by_rate else "users",
        {o.signal: o.load for o in a.onsets},
        _t(a),
        per_second,
    )


def _recovery(a: Analysis) -> Figure:
    return plots.recovery_plot(a.recovery.reconnect_hist, a.recovery.resync_hist)


def _capacity(a: Analysis) -> Figure:
    c = a.capacity
    if c is None:
        return plots.capacity_plot(
            [], [], [], [], throughput_unit="", key_metric=None, knee=None, max_within=None, threshold_ms=None
        )
    searched = search_capacity(a.run)  # the capacity-search shape's own answer, as in summary.json
    return plots.capacity_plot(
        [p.conversations for p in c.points],
        [p.throughput for p in c.points],
        [p.key_p95_ms for p in c.points],
        [p.within_slo for p in c.points],
        throughput_unit=c.throughput_unit,
        key_metric=c.key_metric,
        knee=c.knee,
        max_within=searched["max_conversations_within_slo"] if searched else c.max_within_slo,
        threshold_ms=c.key_threshold_ms,
    )


def _disconnects(a: Analysis) -> Figure:
    reasons = sorted({r for w in a.windows for r in w.disconnects if r != "client"})  # planned stops left out
    return plots.disconnects_plot(
        [float(w.start_t) for w in a.windows],
        float(a.window_s),
        {r: [float(w.disconnects.get(r, 0)) for w in a.windows] for r in reasons},
    )


def _health(a: Analysis) -> Figure:
    return plots.health_plot(
        _t(a),
        [s.health_of("loop_lag_ms") for s in a.seconds],
        [s.health_of("cpu_percent") for s in a.seconds],
        [(float(w.start_t), float(w.end_t)) for w in a.health],
        LOOP_LAG_LIMIT_MS,
        CPU_PERCENT_LIMIT,
    )


# file stem → (caption, builder), in report order
FIGURES: dict[str, tuple[str, Callable[[Analysis], Figure]]] = {
    "load": ("Users, conversations and sockets over time", _load),
    "latency_over_time": ("Latency percentiles over time", _latency_time),
    "latency_cdf": ("Latency distribution (CDF)", _cdf),
    "throughput": ("Throughput over time", _throughput),
    "throttle": ("Throttle signals against offered load", _throttle),
    "recovery": ("Reconnect recovery and resync", _recovery),
    "capacity": ("Capacity curve", _capacity),
    "disconnects": ("Disconnect taxonomy over time", _disconnects),
    "health": ("Load-generator health", _health),
}


def make_figure(name: str, a: Analysis) -> Figure:
    return FIGURES[name][1](a)
