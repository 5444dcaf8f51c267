"""`report.html`: one self-contained page (inline CSS, PNGs as base64 data URIs, no link of any kind).

The first screen answers the user's question: verdict, capacity, throttle onset, key percentiles and
the SLO table. Plots and the full tables follow. All text goes through :func:`_e`, which also encodes
``:`` and ``/`` so that no URL-looking text (a target such as ``http://…``) appears in the markup.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

from loadtest.report.assemble import Analysis
from loadtest.report.render import (
    fmt_ms,
    fmt_num,
    fmt_slo_value,
    headline,
    onset_text,
    settings_rows,
    step_header,
    step_rows,
    window_rows,
)

__all__ = ["report_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
main{max-width:1160px;margin:0 auto;padding:18px 24px 48px}
h1{font-size:1.5rem;margin:.2rem 0}
h2{font-size:1.15rem;margin:1.8rem 0 .6rem;border-bottom:1px solid #d5d9e0;padding-bottom:.3rem}
.sub{color:#5b6475;font-size:.9rem}
.badge{display:inline-block;padding:.15rem .7rem;border-radius:1rem;font-weight:700;color:#fff;margin-left:.6rem}
.pass{background:#1f8f4e}.fail{background:#c62f2f}.error{background:#b36b00}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:12px;margin:14px 0}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 14px}
.card h3{margin:0 0 .3rem;font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#5b6475}
.card p{margin:0;font-size:1rem}
.notes{background:#fff8e1;border:1px solid #f0d58a;border-radius:8px;padding:8px 14px;margin:10px 0}
.notes li{margin:.2rem 0}
.two{display:grid;grid-template-columns:1.4fr 1fr;gap:16px}
@media (max-width:900px){.two{grid-template-columns:1fr}}
table{border-collapse:collapse;background:#fff;width:100%;font-size:.86rem;margin:.3rem 0 .8rem}
th,td{border:1px solid #dde1e7;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#eef0f4}td:first-child,th:first-child{text-align:left}
td.l{text-align:left;white-space:normal}
.ok{color:#1f8f4e;font-weight:600}.bad{color:#c62f2f;font-weight:600}
figure{background:#fff;border:1px solid #dde1e7;border-radius:8px;margin:0 0 16px;padding:8px}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{color:#5b6475;font-size:.85rem;text-align:center}
"""


_DEFAULTS_NOTE = (
    "<p>Default objectives (no <code>--slo</code> was given; any <code>--slo</code> replaces them, "
    "<code>--slo none</code> turns them off).</p>"
)


def _e(value: object) -> str:
    return html.escape(str(value)).replace(":", "&#58;").replace("/", "&#47;")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = ' class="l"' if i in left else ""
            cells.append(f"<td{cls}>{c}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _card(title: str, text: str) -> str:
    return f'<div class="card"><h3>{_e(title)}</h3><p>{_e(text)}</p></div>'


def _ok(ok: bool | None) -> str:
    return {True: '<span class="ok">met</span>', False: '<span class="bad">breached</span>', None: "not judged"}[ok]


def _first_screen(a: Analysis) -> str:
    h = headline(a)
    run = a.run
    sub = " · ".join(
        _e(x)
        for x in (
            f"API: {h.api}",
            f"profile {a.profile}",
            f"target {run.get('target', '–')}",
            f"started {run.get('started_at', '–')}",
            f"{a.duration_s} s recorded",
        )
    )
    parts = [
        f'<h1>loadtest report: {_e(a.label)}<span class="badge {h.verdict}">{_e(h.verdict.upper())}</span></h1>',
        f'<div class="sub">{sub}</div>',
        '<div class="cards">',
        _card("Verdict", f"{h.verdict.upper()}: {h.verdict_reason}"),
        _card("Capacity", h.capacity),
        _card("Knee", h.knee),
        _card("Throttle onset", h.onset),
        _card("Throughput", h.throughput),
        "</div>",
    ]
    if a.notes:
        parts.append('<div class="notes"><ul>' + "".join(f"<li>{_e(n)}</li>" for n in a.notes) + "</ul></div>")
    metric_rows = [
        [
            _e(x)
            for x in (
                n,
                fmt_num(m.count),
                fmt_num(m.failures),
                fmt_ms(m.p50_ms),
                fmt_ms(m.p95_ms),
                fmt_ms(m.p99_ms),
                fmt_ms(m.max_ms),
            )
        ]
        for n, m in a.metrics.items()
    ]
    slo_rows = [[_e(s.expr), _e(fmt_slo_value(s.expr, s.value)), _ok(s.ok)] for s in a.slo]
    parts.append('<div class="two"><div><h2 id="latency">Key percentiles (whole run)</h2>')
    parts.append(
        _table(["metric", "count", "failures", "p50", "p95", "p99", "max"], metric_rows)
        if metric_rows
        else "<p>No latency samples were recorded.</p>"
    )
    parts.append('</div><div><h2 id="slo">SLOs</h2>')
    parts.append(
        (_DEFAULTS_NOTE if a.run.get("slo_source") == "default" else "")
        + (_table(["SLO", "value", "result"], slo_rows) if slo_rows else "<p>No SLO was declared for this run.</p>")
    )
    parts.append("</div></div>")
    return "\n".join(parts)


def _figures(images: Mapping[str, tuple[str, bytes]]) -> str:
    out = ['<h2 id="plots">Plots</h2>']
    for name, (caption, png) in images.items():
        data = base64.b64encode(png).decode("ascii")
        out.append(
            f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)} ({_e(name)}.png)</figcaption></figure>"
        )
    return "\n".join(out)


def _tables(a: Analysis) -> str:
    out = ['<h2 id="tables">Tables</h2>']
    if a.step_stats:
        out.append("<h3>Load steps (steady state; ramp seconds excluded)</h3>")
        out.append(_table(step_header(a), [[_e(c) for c in r] for r in step_rows(a)], left=(9,)))
    if a.capacity:
        c = a.capacity
        rows = [
            [
                _e(p.step_index),
                _e(f"{p.conversations:.0f}"),
                _e(f"{p.throughput:.2f}"),
                _e(fmt_ms(p.key_p95_ms)),
                _e(f"{p.in_flight:.1f}"),
                _e(f"{p.littles_predicted:.1f}" if p.littles_predicted else "–"),
                _e(f"×{p.littles_ratio:.2f}" if p.littles_ratio else "–"),
                _ok(p.within_slo),
            ]
            for p in c.points
        ]
        out.append(f"<h3>Capacity points (throughput in {_e(c.throughput_unit)}; Little's law L = λ·W)</h3>")
        out.append(
            _table(
                [
                    "step",
                    "conversations",
                    "throughput",
                    f"{c.key_metric} p95",
                    "turns in flight (L)",
                    "λ·W",
                    "L ÷ λ·W",
                    "SLO",
                ],
                rows,
            )
        )
    if a.onsets:
        rows = [
            [
                _e(o.signal),
                _e(o.step_index),
                _e(o.users),
                _e(f"{o.offered_rate:g}"),
                _e(o.at_s),
                _e(o.count),
                _e(f"{o.ratio:.1%}"),
            ]
            for o in a.onsets
        ]
        out.append("<h3>Throttle onset per signal</h3>")
        out.append(
            _table(["signal", "step", "users", "offered/s", "first at (s)", "count in step", "share of ops"], rows)
        )
        out.append("<p>" + "<br>".join(_e(onset_text(o)) for o in a.onsets) + "</p>")
    if a.windows:
        header, rows_w = window_rows(a)
        out.append(
            f"<h3>Percentiles per {a.window_s} s window</h3>" + _table(header, [[_e(c) for c in r] for r in rows_w])
        )
    t = a.totals
    counters = [[_e(k), _e(f"{v:,}")] for k, v in t.items()]
    counters += [[_e(f"throttled · {k}"), _e(v)] for k, v in a.throttled.items()]
    counters += [[_e(f"disconnects · {k}"), _e(v)] for k, v in a.disconnects.items()]
    counters += [[_e(f"errors · {k}"), _e(v)] for k, v in a.errors.items()]
    out.append("<h3>Counters (whole run)</h3>" + _table(["counter", "total"], counters))
    rec = a.recovery
    rows = [
        [
            _e(name),
            _e(m.count),
            _e(m.failures),
            _e(fmt_ms(m.p50_ms)),
            _e(fmt_ms(m.p95_ms)),
            _e(fmt_ms(m.p99_ms)),
            _e(fmt_ms(m.max_ms)),
        ]
        for name, m in (("reconnect (recovery)", rec.reconnect), ("resync", rec.resync))
    ]
    ratio = f"{rec.recovered_ratio:.0%}" if rec.recovered_ratio is not None else "–"
    out.append(
        f"<h3>Reconnects ({_e(rec.disconnects)} disconnects other than client stops, {_e(ratio)} recovered)</h3>"
    )
    out.append(_table(["measure", "count", "failures", "p50", "p95", "p99", "max"], rows))
    reasons = sorted({r for w in a.windows for r in w.disconnects})
    busy = [w for w in a.windows if w.disconnects]
    if busy:
        rows = [[_e(f"{w.start_t}–{w.end_t}"), *[_e(w.disconnects.get(r, 0)) for r in reasons]] for w in busy]
        out.append("<h3>Disconnect taxonomy over time</h3>" + _table(["t (s)", *reasons], rows))
    if a.health:
        rows = [
            [
                _e(f"{w.start_t}–{w.end_t}"),
                _e(f"{w.max_loop_lag_ms:.1f} ms"),
                _e(f"{w.max_cpu_percent:.0f}%"),
                _e(w.lost_workers),
                _e(", ".join(w.reasons)),
            ]
            for w in a.health
        ]
        out.append("<h3>Generator health: flagged windows</h3>")
        out.append(_table(["t (s)", "max loop lag", "max CPU", "lost workers", "why"], rows, left=(4,)))
    for suffix, rows_ in a.data.locust.items():
        if rows_:
            header = list(rows_[0])
            out.append(f"<h3>Locust {_e(suffix)} (locust_{_e(suffix)}.csv)</h3>")
            out.append(
                _table(header, [[_e(r.get(h, "")) for h in header] for r in rows_], left=tuple(range(len(header))))
            )
    settings = settings_rows(a.run)
    if settings:
        out.append(
            "<h3>Settings (secrets redacted)</h3>"
            + _table(["setting", "value"], [[_e(k), _e(v)] for k, v in settings], left=(1,))
        )
    versions = a.run.get("versions")
    if isinstance(versions, dict) and versions:
        out.append(
            "<h3>Versions</h3>" + _table(["component", "version"], [[_e(k), _e(v)] for k, v in versions.items()])
        )
    return "\n".join(out)


def report_html(a: Analysis, images: Mapping[str, tuple[str, bytes]]) -> str:
    """The whole page; ``images`` maps a plot name to (caption, PNG bytes), in display order."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>loadtest report: {_e(a.label)} ({_e(a.verdict)})</title>",
            f"<style>{_CSS}</style></head><body><main>",
            _first_screen(a),
            _figures(images),
            _tables(a),
            "</main></body></html>",
            "",
        ]
    )
