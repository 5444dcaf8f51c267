"""The rows of the web UI's "Conversations" tab, from merged timeline data (pure: no Locust, no I/O).

Locust's React UI sorts an extended table by a ``name`` field when the rows have one, so these rows
have none: they stay in the order built here, grouped by their ``section`` column. Every figure
comes from our own mergeable histograms and counters (on a master: the merged timeline of all
workers), never from Locust's rounded statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

from loadtest.slo import SloResult
from loadtest.timeline import GAUGES, METRICS, TOP_COUNTERS, Second

__all__ = ["CONVERSATION_COLUMNS", "Cell", "Row", "conversation_rows", "fmt_ms"]

#: One cell of a table row (Locust's extended tables show them as text).
Cell: TypeAlias = str | int | float
#: One row of our tables, by column key.
Row: TypeAlias = dict[str, Cell]

CONVERSATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("section", "Section"),
    ("item", "Metric or counter"),
    ("count", "Count / value"),
    ("failures", "Failures"),
    ("p50", "p50 ms"),
    ("p95", "p95 ms"),
    ("p99", "p99 ms"),
    ("max", "Max ms"),
    ("recent", "Last 10 s (p95 ms or count)"),
    ("detail", "Detail"),
)
_LIVE_LABELS = {
    "users": "users",
    "conversations": "conversations open",
    "sockets": "sockets connected",
    "turns_in_flight": "turns in flight",
    "reconnecting": "reconnecting",
}
STREAM_COUNTERS = (*TOP_COUNTERS, "dropped_actions")
_STREAM_DETAIL = {
    "gaps": "event ids that never arrived",
    "duplicates": "event ids seen twice",
    "out_of_order": "event ids below one already seen",
    "dropped_actions": "paced slots skipped (a user fell behind)",
}


def fmt_ms(value: float | None) -> str:
    """A latency for the table: one decimal, blank when there is none."""
    return "" if value is None else f"{value:.1f}"


def _row(section: str, item: str, count: Cell = "", **cells: Cell) -> Row:
    row: Row = {key: "" for key, _ in CONVERSATION_COLUMNS}
    row.update(section=section, item=item, count=count, **cells)
    return row


def _metric_order(names: Sequence[str]) -> list[str]:
    known = [m for m in METRICS if m in names]
    known += [f"{m}_co" for m in METRICS if f"{m}_co" in names]
    return known + sorted(n for n in names if n not in known)


def _latency_rows(total: Second, recent: Second) -> list[Row]:
    rows = []
    names = set(total.hists) | {k.removeprefix("failures.") for k in total.counters if k.startswith("failures.")}
    for name in _metric_order(sorted(names)):
        h = total.hists.get(name)
        r = recent.hists.get(name)
        count = h.count if h is not None else 0
        rows.append(
            _row(
                "latency",
                name,
                count,
                failures="" if name.endswith("_co") else total.counter(f"failures.{name}"),
                p50=fmt_ms(h.percentile(50) if h else None),
                p95=fmt_ms(h.percentile(95) if h else None),
                p99=fmt_ms(h.percentile(99) if h else None),
                max=fmt_ms(h.max if h and h.count else None),
                recent=fmt_ms(r.percentile(95) if r is not None else None),
                detail="from the intended send time (paced)" if name.endswith("_co") else "",
            )
        )
    if not rows:
        rows.append(_row("latency", "no samples yet", 0))
    return rows


def _group_rows(section: str, group: str, total: Second, recent: Second, empty: str) -> list[Row]:
    kinds = total.group(group)
    if not kinds:
        return [_row(section, empty, 0)]
    rows = [_row(section, f"{group} (all)", sum(kinds.values()), recent=recent.counter(group))]
    for kind, n in sorted(kinds.items()):
        rows.append(_row(section, kind, n, recent=recent.counter(f"{group}.{kind}")))
    return rows


def _slo_rows(results: Sequence[SloResult] | None, source: str = "given") -> list[Row]:
    if results is None:
        return [_row("SLO", "status", "–", detail="no run yet")]
    if not results:
        return [
            _row(
                "SLO",
                "status",
                "–",
                detail="no objectives (--slo none)" if source == "none" else "no --slo objectives set",
            )
        ]
    breached = [r for r in results if not r.ok]
    rows = [
        _row(
            "SLO",
            "status",
            "FAIL" if breached else "pass",
            detail=(f"{len(breached)} of {len(results)} objective(s) breached so far" if breached else "all met so far")
            + (" (default objectives: no --slo given)" if source == "default" else ""),
        )
    ]
    for r in results:
        if r.value is None:
            shown = "no samples"
        elif r.unit == "ms":
            shown = f"{r.value:.1f} ms"
        elif r.unit == "ratio":
            shown = f"{r.value * 100:.3g}%"
        else:
            shown = f"{r.value:g}"
        rows.append(_row("SLO", r.expr, shown, detail="ok" if r.ok else "BREACH"))
    return rows


def conversation_rows(
    total: Second,
    recent: Second,
    latest: Mapping[str, float],
    slo: Sequence[SloResult] | None,
    *,
    workers: int = 1,
    slo_source: str = "given",
) -> list[Row]:
    """All rows of the tab: live gauges, latencies, stream integrity, throttles, reconnects, errors, SLOs.

    ``total`` is the whole run merged, ``recent`` the last seconds merged, ``latest`` the gauges of
    the newest complete second (summed over workers), ``slo`` the objectives evaluated over ``total``
    (``None`` before any run), ``slo_source`` whether they are the defaults (``"default"``).
    """
    rows = [_row("live", _LIVE_LABELS["users"], int(latest.get("users", 0)))]
    for gauge in GAUGES:
        rows.append(_row("live", _LIVE_LABELS.get(gauge, gauge), int(latest.get(gauge, 0))))
    if workers > 1:
        rows.append(_row("live", "workers reporting", workers))
    rows += _latency_rows(total, recent)
    for key in STREAM_COUNTERS:
        rows.append(
            _row("stream", key, total.counter(key), recent=recent.counter(key), detail=_STREAM_DETAIL.get(key, ""))
        )
    rows += _group_rows("throttle", "throttled", total, recent, "no throttle signals")
    rows.append(_row("reconnect", "reconnects", total.counter("reconnects"), recent=recent.counter("reconnects")))
    rows += _group_rows("reconnect", "disconnects", total, recent, "no disconnects")
    rows += _group_rows("errors", "errors", total, recent, "no errors")
    rows += _slo_rows(slo, slo_source)
    return rows
