"""A "Socket.IO" tab in Locust's web UI, fed from the merged timeline (not from Locust's rounded stats).

Locust's extension points only (``template_args`` ``extended_tabs``/``extended_tables``/
``extended_csv_files``, and ``extended_stats`` added to ``/stats/requests``): one table with, per metric,
count, failures and percentiles over the whole run and over the last 10 s, then the integrity,
throttle and disconnect counters. ``/loadtest/socketio.csv`` downloads it and
``/loadtest/timeline.json`` returns the last timeline lines for scripts.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Response, make_response, request

from loadtest.harness.timeline import Slice, line_from_slice, window

__all__ = ["COLUMNS", "install_web_ui", "table_rows"]

TAB_KEY = "socketio"
COLUMNS = (
    ("name", "Metric or counter"),
    ("count", "Count"),
    ("failures", "Failures"),
    ("p50", "p50 ms"),
    ("p95", "p95 ms"),
    ("p99", "p99 ms"),
    ("max", "Max ms"),
    ("recent_p95", "p95 ms (last 10 s)"),
)
RECENT_SECONDS = 10


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def table_rows(total: Slice, recent: Slice) -> list[dict[str, Any]]:
    """The tab's rows: one per latency metric, then the integrity/throttle/disconnect counters."""
    rows: list[dict[str, Any]] = []
    for name in sorted(total.hists):
        h = total.hists[name]
        r = recent.hists.get(name)
        rows.append(
            {
                "name": name,
                "safe_name": name,
                "count": h.count,
                "failures": total.counter(f"failures.{name.removesuffix('_co')}") if not name.endswith("_co") else "",
                "p50": _ms(h.percentile(50)),
                "p95": _ms(h.percentile(95)),
                "p99": _ms(h.percentile(99)),
                "max": _ms(h.max if h.count else None),
                "recent_p95": _ms(r.percentile(95) if r is not None else None),
            }
        )
    counters = ["actions", "events", "gaps", "duplicates", "out_of_order", "reconnects", "dropped_actions"]
    for group in ("throttled", "disconnects", "errors"):
        counters += [f"{group}.{k}" for k in sorted(total.group(group))]
    for key in counters:
        rows.append({"name": key, "safe_name": key, "count": total.counter(key), "failures": "", "p50": "", "p95": ""})
    return rows


def install_web_ui(environment: Any, runtime: Any) -> None:
    """Add the tab, the CSV download and the timeline route to ``environment.web_ui`` (if there is one)."""
    web_ui = environment.web_ui
    if web_ui is None:
        return
    web_ui.template_args["extended_tabs"] = [{"title": "Socket.IO", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": k, "title": t} for k, t in COLUMNS]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "/loadtest/socketio.csv", "title": "Download Socket.IO statistics CSV (merged timeline)"}
    ]

    def rows() -> list[dict[str, Any]]:
        history = list(runtime.history)
        return table_rows(runtime.total, window(history[-RECENT_SECONDS:]))

    @web_ui.app.after_request
    def add_socketio_stats(response: Response) -> Response:
        if not request.path.endswith("/stats/requests") or response.status_code != 200:
            return response
        data = response.get_json(silent=True)
        if isinstance(data, dict):
            data["extended_stats"] = [{"key": TAB_KEY, "data": rows()}]
            response.set_data(json.dumps(data))
        return response

    @web_ui.app.route("/loadtest/socketio.csv")
    def socketio_csv() -> Response:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[k for k, _ in COLUMNS], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows())
        resp = make_response(out.getvalue())
        resp.headers["Content-Type"] = "text/csv"
        resp.headers["Content-Disposition"] = "attachment;filename=socketio_stats.csv"
        return resp

    @web_ui.app.route("/loadtest/timeline.json")
    def timeline_json() -> Response:
        lines = []
        for s in list(runtime.history)[-60:]:
            t = s.second - runtime.start_second
            lines.append(line_from_slice(s, t=t, step=runtime.step_at(t), workers=max(len(s.health), 1)))
        return make_response(json.dumps(lines), 200, {"Content-Type": "application/json"})
