"""The report's plots: plain data in, a matplotlib ``Figure`` out (Agg backend, no pyplot state).

Every function draws one figure with a title, axis units and a legend, and still returns a readable
figure (with a "no data" note) when its data are empty. Layout uses matplotlib's constrained layout so
labels never overlap. :func:`save_png` writes a figure and closes nothing global.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogFormatter, MaxNLocator

from loadtest.histogram import Histogram

__all__ = [
    "Series",
    "StepMark",
    "capacity_plot",
    "disconnects_plot",
    "health_plot",
    "latency_cdf_plot",
    "latency_over_time_plot",
    "load_plot",
    "recovery_plot",
    "save_png",
    "throttle_plot",
    "throughput_plot",
]

Series = Mapping[str, Sequence[float]]
StepMark = tuple[float, str]  # (start second, label)

_WIDTH, _HEIGHT = 10.0, 4.6
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_PCT_STYLE: dict[str, tuple[Literal["-", "--", ":"], float]] = {
    "p50": ("-", 1.6),
    "p95": ("--", 1.6),
    "p99": (":", 1.8),
}


def _figure(height: float = _HEIGHT, width: float = _WIDTH) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _color(i: int) -> str:
    return _COLORS[i % len(_COLORS)]


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _ms_formatter(value: float, _pos: object) -> str:
    """Milliseconds as a short label: ``250 ms``, ``1.5 s`` (3 significant digits)."""
    if value >= 1000:
        return f"{float(f'{value / 1000:.3g}'):g} s"
    return f"{float(f'{value:.3g}'):g} ms"


class _MsLogFormatter(LogFormatter):
    """Log-axis tick labels in ms/s; matplotlib still decides which minor ticks get a label."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return _ms_formatter(x, None)


def _ms_log_axis(axis: object) -> None:
    axis.set_major_formatter(_MsLogFormatter())  # type: ignore[attr-defined]
    axis.set_minor_formatter(_MsLogFormatter(minor_thresholds=(1, 0.5)))  # type: ignore[attr-defined]


def _steps(ax: Axes, steps: Sequence[StepMark], label: bool = True) -> None:
    """Dotted vertical lines at step starts, labelled at the top (thinned out when crowded)."""
    every = max(1, math.ceil(len(steps) / 8))
    for i, (start, text) in enumerate(steps):
        ax.axvline(start, color="#999999", linestyle=":", linewidth=1, zorder=0)
        if label and i % every == 0:
            ax.text(
                start,
                1.0,
                f" {text}",
                transform=ax.get_xaxis_transform(),
                ha="left",
                va="bottom",
                fontsize=8,
                color="#555555",
                clip_on=False,
            )


def load_plot(t: Sequence[float], series: Series, steps: Sequence[StepMark] = ()) -> Figure:
    """1. Users, conversations, sockets (and clients reconnecting) over time, step boundaries marked."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.set_title("Load: users, conversations and sockets over time", pad=18)
    if not t:
        _no_data(ax, "no timeline data")
        return fig
    for i, (name, values) in enumerate(series.items()):
        # users first, wide and pale, so the equal conversation and socket counts drawn on top stay visible
        width, alpha, style = (4.0, 0.35, "-") if i == 0 else (1.6, 1.0, "--" if i == 1 else "-")
        ax.step(t, values, where="post", label=name, color=_color(i), linewidth=width, alpha=alpha, linestyle=style)
    _steps(ax, steps)
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("count")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    return fig


def latency_over_time_plot(
    per_metric: Mapping[str, Mapping[str, Sequence[float | None]]], steps: Sequence[StepMark] = ()
) -> Figure:
    """2. p50/p95/p99 per time window, one panel per metric, log scale.

    ``per_metric[name]`` has ``"t"`` (window mid-points, s) and ``"p50"``, ``"p95"``, ``"p99"`` (ms or None).
    """
    names = [n for n, d in per_metric.items() if any(v is not None for v in d.get("p50", []))]
    cols = 2 if len(names) > 1 else 1
    rows = max(1, math.ceil(len(names) / cols))
    fig = _figure(height=max(_HEIGHT, 2.6 * rows + 0.8))
    fig.suptitle("Latency percentiles over time (log scale)")
    if not names:
        _no_data(fig.add_subplot(), "no latency samples")
        return fig
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    for k, name in enumerate(names):
        ax = axes[k // cols][k % cols]
        d = per_metric[name]
        for pct, (style, width) in _PCT_STYLE.items():
            pts = [(x, y) for x, y in zip(d["t"], d[pct], strict=False) if y is not None and y > 0]
            if pts:
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    style,
                    linewidth=width,
                    label=pct,
                    color=_color(k),
                    marker=".",
                )
        ax.set_yscale("log")
        ax.margins(x=0.05, y=0.15)
        _ms_log_axis(ax.yaxis)
        ax.set_title(name, fontsize=10)
        _steps(ax, steps, label=False)
        ax.grid(alpha=0.3, which="both")
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
        above = axes[k // cols - 1][k % cols] if k >= cols else None
        if above is not None:  # the panel above an empty slot is the last of its column: label its x axis
            above.xaxis.set_tick_params(labelbottom=True)
            above.set_xlabel("time since start (s)")
    for ax in axes[-1]:
        ax.set_xlabel("time since start (s)")
    for row in axes:
        row[0].set_ylabel("latency")
    keys = [
        Line2D([], [], color="#444444", linestyle=style, linewidth=width, label=pct)
        for pct, (style, width) in _PCT_STYLE.items()
    ]
    fig.legend(handles=keys, loc="outside lower center", ncols=3, fontsize=9)
    return fig


def latency_cdf_plot(cdfs: Mapping[str, Sequence[tuple[float, float]]]) -> Figure:
    """3. Cumulative distribution of each metric's latency (log x), p50/p95/p99 guides."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.set_title("Latency distribution per metric (CDF)")
    drawn = {n: pts for n, pts in cdfs.items() if pts}
    if not drawn:
        _no_data(ax, "no latency samples")
        return fig
    for i, (name, pts) in enumerate(drawn.items()):
        xs = [pts[0][0], *[p[0] for p in pts]]
        ys = [0.0, *[p[1] for p in pts]]
        ax.step(xs, ys, where="post", label=name, color=_color(i), linewidth=1.6)
    for q in (0.5, 0.95, 0.99):
        ax.axhline(q, color="#999999", linestyle=":", linewidth=1)
        ax.text(1.0, q, f" p{q * 100:g}", transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="#555555")
    ax.set_xscale("log")
    _ms_log_axis(ax.xaxis)
    ax.set_xlabel("latency (log scale)")
    ax.set_ylabel("fraction of samples ≤ latency")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=9)
    return fig


def throughput_plot(
    t: Sequence[float], rates: Series, bytes_per_s: Sequence[float], steps: Sequence[StepMark] = ()
) -> Figure:
    """4. Actions/s (and turns/s) on top, events/s with received KiB/s below, per second."""
    fig = _figure(height=5.4)
    fig.suptitle("Throughput over time")
    if not t:
        _no_data(fig.add_subplot(), "no timeline data")
        return fig
    top, bottom = fig.subplots(2, 1, sharex=True)
    for i, (name, values) in enumerate((k, v) for k, v in rates.items() if k != "events/s"):
        top.plot(t, values, label=name, color=_color(i), linewidth=1.4)
    top.set_ylabel("per second")
    top.set_ylim(bottom=0)
    top.legend(loc="upper left", fontsize=9)
    top.grid(alpha=0.3)
    _steps(top, steps)
    events = rates.get("events/s", [])
    bottom.plot(t, events, label="events/s", color=_color(2), linewidth=1.4)
    bottom.set_ylabel("events per second")
    bottom.set_ylim(bottom=0)
    bottom.grid(alpha=0.3)
    _steps(bottom, steps, label=False)
    twin = bottom.twinx()
    twin.plot(t, [b / 1024 for b in bytes_per_s], label="KiB/s received", color=_color(3), linewidth=1.0, alpha=0.7)
    twin.set_ylabel("KiB per second")
    twin.set_ylim(bottom=0)
    handles = bottom.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    bottom.legend(handles, [str(h.get_label()) for h in handles], loc="upper left", fontsize=9)
    bottom.set_xlabel("time since start (s)")
    return fig


def throttle_plot(
    loads: Sequence[float],
    per_signal: Mapping[str, Sequence[float]],
    load_label: str,
    onsets: Mapping[str, float],
    t: Sequence[float],
    per_second: Mapping[str, Sequence[float]],
) -> Figure:
    """5. Throttle signals per second by kind: against offered load per step (onsets marked), and over time."""
    fig = _figure(height=4.8, width=11.0)
    fig.suptitle("Throttle signals per second by kind")
    left, right = fig.subplots(1, 2)
    kinds = sorted(set(per_signal) | set(per_second))
    if not kinds or (not any(any(v) for v in per_signal.values()) and not any(any(v) for v in per_second.values())):
        _no_data(left, "no throttle signals")
        _no_data(right, "no throttle signals")
        return fig
    for i, kind in enumerate(kinds):
        values = per_signal.get(kind, [])
        if values:
            left.plot(loads, values, marker="o", label=kind, color=_color(i), linewidth=1.6)
        if kind in onsets:
            left.axvline(onsets[kind], color=_color(i), linestyle="--", linewidth=1)
            left.annotate(
                f"onset {kind}",
                (onsets[kind], 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12 - 12 * i),
                textcoords="offset points",
                fontsize=8,
                color=_color(i),
            )
    left.set_xlabel(load_label)
    left.set_ylabel("signals per second (step mean)")
    left.set_title("against offered load (per step)", fontsize=10)
    left.set_ylim(bottom=0)
    left.set_xlim(left=0, right=max(loads, default=1) * 1.08 or 1)
    left.grid(alpha=0.3)
    left.legend(loc="center left", fontsize=8)
    bottom = [0.0] * len(t)
    for i, kind in enumerate(kinds):
        values = per_second.get(kind, [0.0] * len(t))
        right.bar(t, values, bottom=bottom, width=1.0, label=kind, color=_color(i), align="edge")
        bottom = [b + v for b, v in zip(bottom, values, strict=False)]
    right.set_xlabel("time since start (s)")
    right.set_ylabel("signals per second")
    right.set_title("over time", fontsize=10)
    right.grid(alpha=0.3)
    right.legend(loc="upper left", fontsize=8)
    return fig


def _log_bins(h: Histogram, bins: int = 30) -> tuple[list[float], list[int]]:
    lo, hi = max(h.min, 0.1), max(h.max, 0.1)
    if hi <= lo * 1.05:
        lo, hi = lo / 1.5, hi * 1.5
    edges = [lo * (hi / lo) ** (i / bins) for i in range(bins + 1)]
    counts = [0] * bins
    for value, n in ((v, c) for v, c in _bucket_points(h)):
        k = min(bins - 1, max(0, int(bins * math.log(value / lo) / math.log(hi / lo)))) if value > lo else 0
        counts[k] += n
    return edges, counts


def _bucket_points(h: Histogram) -> list[tuple[float, int]]:
    pts = h.cdf()
    out, prev = [], 0.0
    for value, frac in pts:
        n = round((frac - prev) * h.count)
        prev = frac
        out.append((value, n))
    return out


def recovery_plot(reconnect: Histogram, resync: Histogram) -> Figure:
    """6. Distributions of reconnect recovery (drop → connected) and resync (drop → live again)."""
    fig = _figure(height=4.4, width=11.0)
    fig.suptitle("Reconnect recovery and resync time distributions")
    panels = fig.subplots(1, 2)
    for ax, (title, h, color) in zip(
        panels,
        (
            ("recovery: connection lost → CONNECT ack", reconnect, _color(0)),
            ("resync: connection lost → live head", resync, _color(1)),
        ),
        strict=True,
    ):
        ax.set_title(title, fontsize=10)
        if not h.count:
            _no_data(ax, "no reconnects in this run")
            continue
        edges, counts = _log_bins(h)
        ax.stairs(counts, edges, fill=True, color=color, alpha=0.6, label=f"{h.count} samples")
        for q, style in ((50, "-"), (95, "--"), (99, ":")):
            v = h.percentile(q)
            if v is not None:
                ax.axvline(v, color="#333333", linestyle=style, linewidth=1.2, label=f"p{q} {_ms_formatter(v, None)}")
        ax.set_xscale("log")
        _ms_log_axis(ax.xaxis)
        ax.set_xlabel("time (log scale)")
        ax.set_ylabel("reconnects")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="upper left", fontsize=8)
    return fig


def capacity_plot(
    conversations: Sequence[float],
    throughput: Sequence[float],
    p95_ms: Sequence[float | None],
    within_slo: Sequence[bool],
    *,
    throughput_unit: str,
    key_metric: str | None,
    knee: float | None,
    max_within: float | None,
    threshold_ms: float | None,
) -> Figure:
    """7. Throughput and p95 versus concurrent conversations, with the knee and the SLO marked."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.set_title("Capacity: throughput and latency versus concurrent conversations")
    if len(conversations) < 1:
        _no_data(ax, "capacity needs at least two load steps at different concurrency")
        return fig
    ax.plot(
        conversations, throughput, marker="o", color=_color(0), linewidth=1.8, label=f"throughput ({throughput_unit})"
    )
    if conversations[0] > 0:
        slope = throughput[0] / conversations[0]
        top = max(conversations)
        ax.plot([0, top], [0, slope * top], color=_color(0), linestyle=":", linewidth=1, label="linear scaling")
    bad = [(n, x) for n, x, ok in zip(conversations, throughput, within_slo, strict=False) if not ok]
    if bad:
        ax.scatter(
            [b[0] for b in bad], [b[1] for b in bad], marker="x", s=80, color=_color(3), zorder=5, label="SLO breached"
        )
    ax.set_xlabel("concurrent conversations")
    ax.set_ylabel(f"throughput ({throughput_unit})", color=_color(0))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0, top=max(throughput, default=1) * 1.25 or 1)
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    pts = [(n, p) for n, p in zip(conversations, p95_ms, strict=False) if p is not None]
    if pts:
        twin.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker="s",
            color=_color(1),
            linewidth=1.6,
            label=f"{key_metric} p95",
        )
    if threshold_ms is not None:
        twin.axhline(
            threshold_ms,
            color=_color(1),
            linestyle="--",
            linewidth=1,
            label=f"SLO {key_metric} p95 < {_ms_formatter(threshold_ms, None)}",
        )
    twin.set_ylabel(f"{key_metric or 'latency'} p95", color=_color(1))
    twin.yaxis.set_major_formatter(FuncFormatter(_ms_formatter))
    top_ms = max([p for _, p in pts] + ([threshold_ms] if threshold_ms is not None else []), default=1.0)
    twin.set_ylim(bottom=0, top=top_ms * 1.25)
    if knee is not None:
        ax.axvline(knee, color="#444444", linestyle="--", linewidth=1.2, label=f"knee ≈ {knee:g}")
    if max_within:
        ax.axvspan(0, max_within, color=_color(2), alpha=0.08, label=f"within SLO (≤ {max_within:g})")
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    fig.legend(handles, [str(h.get_label()) for h in handles], loc="outside lower center", fontsize=8, ncols=4)
    return fig


def disconnects_plot(starts: Sequence[float], width: float, per_reason: Mapping[str, Sequence[float]]) -> Figure:
    """Disconnects by reason per time window (stacked)."""
    fig = _figure(height=4.0)
    ax = fig.add_subplot()
    ax.set_title(f"Disconnects by reason (per {width:g} s window; client-initiated stops not shown)")
    if not starts or not any(any(v) for v in per_reason.values()):
        _no_data(ax, "no disconnects")
        return fig
    bottom = [0.0] * len(starts)
    for i, (reason, values) in enumerate(per_reason.items()):
        ax.bar(starts, values, width=width * 0.9, bottom=bottom, align="edge", label=reason, color=_color(i))
        bottom = [b + v for b, v in zip(bottom, values, strict=False)]
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("disconnects")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="upper left", fontsize=9)
    return fig


def health_plot(
    t: Sequence[float],
    loop_lag_ms: Sequence[float],
    cpu_percent: Sequence[float],
    flagged: Sequence[tuple[float, float]],
    lag_limit_ms: float,
    cpu_limit: float,
) -> Figure:
    """Load-generator health: gevent loop lag and CPU per second; flagged windows shaded."""
    fig = _figure(height=4.0)
    ax = fig.add_subplot()
    ax.set_title("Load-generator health (shaded: results suspect)")
    if not t or not (any(loop_lag_ms) or any(cpu_percent)):
        _no_data(ax, "no generator health data recorded")
        return fig
    ax.plot(t, loop_lag_ms, color=_color(0), linewidth=1.4, label="loop lag (ms)")
    ax.axhline(lag_limit_ms, color=_color(0), linestyle=":", linewidth=1, label=f"lag limit {lag_limit_ms:g} ms")
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("loop lag (ms)", color=_color(0))
    ax.set_ylim(bottom=0)
    twin = ax.twinx()
    twin.plot(t, cpu_percent, color=_color(1), linewidth=1.4, label="CPU (%)")
    twin.axhline(cpu_limit, color=_color(1), linestyle=":", linewidth=1, label=f"CPU limit {cpu_limit:g}%")
    twin.set_ylabel("CPU (%)", color=_color(1))
    twin.set_ylim(0, max(105.0, max(cpu_percent, default=0) * 1.05))
    for i, (start, end) in enumerate(flagged):
        ax.axvspan(start, end + 1, color=_color(3), alpha=0.15, label="generator saturated" if i == 0 else None)
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    fig.legend(handles, [str(h.get_label()) for h in handles], loc="outside lower center", fontsize=8, ncols=5)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path
