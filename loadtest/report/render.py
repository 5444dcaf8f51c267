"""Render an analysis as text: `summary.json` (DESIGN §6), `summary.md` (CI job summary) and the
headline facts both share with `report.html` (built in ``render_html.py``). Pure: strings out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from loadtest.report.assemble import Analysis, search_capacity, search_onset, summary_dict, verdict_reason
from loadtest.report.slo import parse_slo
from loadtest.report.throttle import Onset

__all__ = [
    "Headline",
    "api_text",
    "fmt_ms",
    "fmt_num",
    "fmt_slo_value",
    "headline",
    "onset_text",
    "settings_rows",
    "step_header",
    "step_rows",
    "summary_json",
    "summary_markdown",
    "window_rows",
]


def fmt_ms(value: float | None) -> str:
    """``12.3 ms``, ``4.56 s``, ``–`` for no value."""
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value / 1000:.3g} s"
    return f"{value:.3g} ms"


def fmt_num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def fmt_slo_value(expr: str, value: float | None) -> str:
    """An SLO's measured value in the expression's own terms (ms/s for latencies, % for ratios)."""
    slo = parse_slo(expr)
    if value is None or slo is None:
        return fmt_num(value, 4)
    if slo.is_latency:
        return fmt_ms(value)
    if slo.kind == "ratio":
        return f"{value:.2%}"
    return fmt_num(value, 4)


def onset_text(o: Onset) -> str:
    load = f"{o.offered_rate:g} actions/s offered" if o.load_kind == "offered_rate" else f"{o.users} users"
    extra = f" (≈ {o.offered_rate:.3g} actions/s)" if o.load_kind == "users" else ""
    return f"{o.signal} from {load}{extra}, step {o.step_index}, first at t = {o.at_s} s ({o.ratio:.1%} of operations)"


@dataclass(frozen=True, slots=True)
class Headline:
    """The first-screen answers, as short strings."""

    verdict: str
    verdict_reason: str
    capacity: str
    knee: str
    onset: str
    throughput: str
    api: str = ""


def api_text(run: dict[str, Any]) -> str:
    """The OpenHands API the run spoke, from its settings (``--api``; a run recorded before V1 spoke V0)."""
    settings = run.get("settings")
    settings = settings if isinstance(settings, dict) else {}
    api = str(settings.get("api") or "v0")
    if api == "v0":
        return "OpenHands V0 (Socket.IO)"
    if api == "v1":
        socket = str(settings.get("v1_socket") or "events")
        via = "; messages sent over REST" if settings.get("send_via") == "rest" else ""
        return f"OpenHands V1 ({socket} socket{via})"
    if api == "auto":
        return "auto (probed at start; run.json does not record what the probe found: the run's log names it)"
    return api


def headline(a: Analysis) -> Headline:
    reason = verdict_reason(a)
    if not a.data.has_run_json or not a.run.get("ended_at") or a.data.dropped_lines:
        reason += "; the run did not finish normally, figures cover what was recorded"
    c = a.capacity
    if c is None:
        capacity = "not measured (needs two or more load steps at different concurrency)"
        knee = "–"
    else:
        capacity = f"{c.max_within_slo} conversations within SLO ({c.slo})"
        top = max(p.conversations for p in c.points)
        knee = (
            f"throughput stops growing after ≈ {c.knee} conversations"
            if c.knee is not None
            else f"not reached: throughput still growing at {top:.0f} conversations"
        )
    onset = onset_text(a.onset) if a.onset else "no throttling seen"
    searched = search_onset(a.run)
    if searched is not None:
        o = searched[0]
        onset = (
            f"{o['signal']} at {o['offered_rate']:g} actions/s offered, first at t = {o['at_s']} s (throttle search)"
            if o and o["offered_rate"] is not None
            else "no throttling up to the highest rate searched (throttle search)"
        )
    found = search_capacity(a.run)
    if found is not None:
        capacity = f"{found['max_conversations_within_slo']} conversations within SLO ({found['slo']}; capacity search)"
    r = a.rates
    throughput = f"{r.actions_per_s:.2f} actions/s, {r.events_per_s:.1f} events/s, {r.bytes_per_s / 1024:.1f} KiB/s"
    return Headline(a.verdict, reason, capacity, knee, onset, throughput, api_text(a.run))


def summary_json(a: Analysis) -> str:
    return json.dumps(summary_dict(a), indent=2, ensure_ascii=False) + "\n"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _metric_rows(a: Analysis) -> list[list[str]]:
    return [
        [
            name,
            fmt_num(m.count),
            fmt_num(m.failures),
            fmt_ms(m.p50_ms),
            fmt_ms(m.p95_ms),
            fmt_ms(m.p99_ms),
            fmt_ms(m.max_ms),
        ]
        for name, m in a.metrics.items()
    ]


def step_rows(a: Analysis) -> list[list[str]]:
    points = {p.step_index: p for p in (a.capacity.points if a.capacity else [])}
    rows = []
    for st in a.step_stats:
        key = a.capacity.key_metric if a.capacity else None
        p = points.get(st.step.index)
        rows.append(
            [
                str(st.step.index),
                f"{st.step.start_t}–{st.step.end_t}",
                str(st.step.users),
                fmt_num(st.step.offered_rate) if st.step.offered_rate else "–",
                f"{st.conversations:.0f}",
                str(st.steady_seconds),
                f"{st.rates.actions_per_s:.2f}",
                f"{st.rates.events_per_s:.1f}",
                fmt_ms(st.metrics[key].p95_ms) if key and key in st.metrics else "–",
                ", ".join(f"{k} {v}" for k, v in st.throttled.items()) or "–",
                (("yes" if p.within_slo else "no") if p else "–")
                + (" (generator saturated)" if st.health_flagged else ""),
            ]
        )
    return rows


def step_header(a: Analysis) -> list[str]:
    key = a.capacity.key_metric if a.capacity and a.capacity.key_metric else "key"
    return [
        "step",
        "t (s)",
        "users",
        "offered/s",
        "conversations",
        "steady s",
        "actions/s",
        "events/s",
        f"{key} p95",
        "throttled",
        "within SLO",
    ]


def summary_markdown(a: Analysis, report_name: str = "report.html") -> str:
    """A CI job summary: verdict, answers, SLOs, percentiles, steps, notes."""
    h = headline(a)
    mark = {"pass": "✅ PASS", "error": "⚠️ ERROR"}.get(h.verdict, "❌ FAIL")
    out = [f"## loadtest: {a.label} — {mark}", "", f"{h.verdict_reason}.", ""]
    out += _md_table(
        ["question", "answer"],
        [
            ["API", h.api],
            ["Capacity", h.capacity],
            ["Knee", h.knee],
            ["Throttle onset", h.onset],
            ["Throughput", h.throughput],
            ["Duration", f"{a.duration_s} s recorded, profile {a.profile}"],
        ],
    )
    if a.slo:
        out += ["### SLOs", ""]
        if a.run.get("slo_source") == "default":
            out += [
                "Default objectives (no `--slo` was given; any `--slo` replaces them, `--slo none` turns them off).",
                "",
            ]
        out += _md_table(
            ["SLO", "value", "result"],
            [
                [
                    s.expr,
                    fmt_slo_value(s.expr, s.value),
                    {True: "✅ met", False: "❌ breached", None: "– not judged"}[s.ok],
                ]
                for s in a.slo
            ],
        )
    out += ["### Latency (whole run)", ""]
    out += (
        _md_table(["metric", "count", "failures", "p50", "p95", "p99", "max"], _metric_rows(a))
        if a.metrics
        else ["No latency samples.", ""]
    )
    if len(a.step_stats) > 1:
        out += ["### Load steps (steady state)", ""]
        out += _md_table(step_header(a), step_rows(a))
    if a.onsets:
        out += ["### Throttle onset per signal", ""]
        out += [f"- {onset_text(o)}" for o in a.onsets] + [""]
    t = a.totals
    rec = a.recovery
    out += [
        "### Integrity and reconnects",
        "",
        f"- events {t['events']:,}, gaps {t['gaps']:,}, duplicates {t['duplicates']:,}, "
        f"out of order {t['out_of_order']:,}, unaudited holes {a.faults.unaudited:,} (not gaps), "
        f"history resets {a.faults.history_resets:,}",
        f"- disconnects: {', '.join(f'{k} {v}' for k, v in a.disconnects.items()) or 'none'}",
        f"- reconnects {rec.reconnect.count} (p50 {fmt_ms(rec.reconnect.p50_ms)}, p95 {fmt_ms(rec.reconnect.p95_ms)}), "
        f"resync p95 {fmt_ms(rec.resync.p95_ms)}, failed reconnects {rec.reconnect_failures}",
        "",
    ]
    if a.notes:
        out += ["### Notes", ""] + [f"- {n}" for n in a.notes] + [""]
    out += [f"Full report with plots: `{report_name}`.", ""]
    return "\n".join(out)


def window_rows(a: Analysis) -> tuple[list[str], list[list[str]]]:
    """Per time window: p95 of each latency metric, rates and throttle signals (the full time series)."""
    names = [n for n in a.metrics if not n.endswith("_co")]
    header = ["t (s)", "users", *[f"{n} p95" for n in names], "actions/s", "events/s", "throttled"]
    users = {s.t: s.users for s in a.seconds}
    rows = []
    for w in a.windows:
        at = [users[t] for t in range(w.start_t, w.end_t + 1) if t in users]
        rows.append(
            [
                f"{w.start_t}–{w.end_t}",
                str(max(at, default=0)),
                *[fmt_ms(w.metrics[n].p95_ms) if n in w.metrics else "–" for n in names],
                f"{w.rates.actions_per_s:.2f}",
                f"{w.rates.events_per_s:.1f}",
                str(sum(w.throttled.values())),
            ]
        )
    return header, rows


def settings_rows(run: dict[str, Any]) -> list[tuple[str, str]]:
    """Flattened ``run.json`` settings (already redacted) as (key, value) rows."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            rows.append((prefix, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)))

    walk("", run.get("settings") or {})
    return rows
