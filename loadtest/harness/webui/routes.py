"""Our tabs in Locust's web UI: "Conversations" (live figures) and "Report" (live plots), plus routes.

Locust's own extension points only (``examples/extend_web_ui.py``):

- ``template_args`` ``extended_tabs`` / ``extended_tables`` / ``extended_csv_files``, and
  ``extended_stats`` added to Locust's ``/stats/requests`` answer with ``after_request``: the React
  UI polls that route every 2 s during a run and shows the rows of the selected extended tab. The
  "Conversations" table (:mod:`loadtest.harness.webui.tables`) is built from the writer's merged
  timeline (on a master: every worker's seconds merged), never from Locust's rounded statistics.
- Flask routes on ``environment.web_ui.app``:

  ========================== =====================================================================
  ``/loadtest/summary``      the live ``summary.json`` (DESIGN §6), built by the report package
  ``/loadtest/report.json``  state of the live plots (what the Report tab shows)
  ``/loadtest/report/<n>.png`` one live plot
  ``/loadtest/report.html``  the run folder's ``report.html``, once the run has stopped
  ``/loadtest/socketio.csv`` the flat per-metric table as CSV
  ``/loadtest/timeline.json`` the last 60 timeline lines
  ``/loadtest/webui.js``     the Report tab's script (``webui.js`` of this package)
  ========================== =====================================================================

An extended tab can only hold a table, so the Report tab's images come from that small script,
which ``after_request`` adds to Locust's index page. The summary and the plots are made by the report
package in a separate renderer process (:mod:`loadtest.harness.webui.live`), so viewing them never
stalls the load generator's gevent loop.

The session key is not a field of the start form: Locust 2.47 puts every web-UI option's current
value into the page (``ui_extra_args_dict`` re-parses the command line and the environment, and
``index.html`` embeds ``template_args|tojson``); ``is_secret`` only masks the input box. The key
would be readable in the page source, so ``options.py`` registers it with ``include_in_web_ui=False``.
"""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

from flask import Response, abort, make_response, request, send_file

from loadtest.harness.webui.live import LiveReport, Rendered, RenderError
from loadtest.harness.webui.tables import CONVERSATION_COLUMNS, Row, conversation_rows, fmt_ms

if TYPE_CHECKING:
    from locust.env import Environment

    from loadtest.harness.writer import RunWriter
from loadtest.timeline import COUNTER_GROUPS, EXTRA_COUNTERS, TOP_COUNTERS, Second, to_line, window

__all__ = ["COLUMNS", "CONVERSATIONS_KEY", "REPORT_KEY", "install_web_ui", "live_rows", "table_rows", "webui_script"]


@cache
def webui_script() -> str:
    """The Report tab's script, ``webui.js`` shipped in this package (package data of the wheel)."""
    return files("loadtest.harness.webui").joinpath("webui.js").read_text(encoding="utf-8")


CONVERSATIONS_KEY = "conversations"
REPORT_KEY = "report"
SOCKETIO_KEY = "socketio"  # the flat table of the CSV, still in /stats/requests for scripts
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
SCRIPT_TAG = '<script src="/loadtest/webui.js" defer></script>'


def table_rows(total: Second, recent: Second) -> list[Row]:
    """The flat table (CSV): one row per latency metric, then the integrity/throttle/disconnect counters."""
    rows: list[Row] = []
    for name in sorted(total.hists):
        h = total.hists[name]
        r = recent.hists.get(name)
        rows.append(
            {
                "name": name,
                "safe_name": name,
                "count": h.count,
                "failures": total.counter(f"failures.{name.removesuffix('_co')}") if not name.endswith("_co") else "",
                "p50": fmt_ms(h.percentile(50)),
                "p95": fmt_ms(h.percentile(95)),
                "p99": fmt_ms(h.percentile(99)),
                "max": fmt_ms(h.max if h.count else None),
                "recent_p95": fmt_ms(r.percentile(95) if r is not None else None),
            }
        )
    counters = [*TOP_COUNTERS, *EXTRA_COUNTERS]
    for group in (g for g in COUNTER_GROUPS if g != "failures"):  # failures are the rows themselves
        counters += [f"{group}.{k}" for k in sorted(total.group(group))]
    for key in counters:
        rows.append({"name": key, "safe_name": key, "count": total.counter(key), "failures": "", "p50": "", "p95": ""})
    return rows


def live_rows(runtime: RunWriter) -> list[Row]:
    """The Conversations tab's rows for ``runtime`` now (whole run, last 10 s, newest gauges, SLOs)."""
    recent = window(runtime.history.recent(RECENT_SECONDS))
    last = runtime.history.latest
    latest = last.gauges if last is not None else {}
    settings = runtime.settings
    slo = runtime.judge.results() if settings is not None and runtime.runlog is not None else None
    workers = len(last.health) if last is not None else 1
    return conversation_rows(runtime.total, recent, latest, slo, workers=workers, slo_source=runtime.judge.source)


def _json(data: object, status: int = 200) -> Response:
    resp = make_response(json.dumps(data), status)
    resp.headers["Content-Type"] = "application/json"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _report_note(*, skipped: bool, finished: bool) -> str:
    if skipped:
        return "report.html: not built (--skip-report)"
    return "report.html: being built…" if finished else "report.html: ready to download when the run stops"


def _figures(rendered: Rendered | None) -> list[dict[str, str]]:
    if rendered is None:
        return []
    return [
        {"name": name, "caption": caption, "url": f"/loadtest/report/{name}.png?g={rendered.generation}"}
        for name, (caption, _) in rendered.images.items()
    ]


def install_web_ui(environment: Environment, runtime: RunWriter) -> None:
    """Add our tabs, downloads and routes to ``environment.web_ui`` (if there is one)."""
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    app = web_ui.app
    live = LiveReport(runtime)
    environment.events.quitting.add_listener(lambda **_: live.close())
    web_ui.template_args["extended_tabs"] = [
        {"title": "Conversations", "key": CONVERSATIONS_KEY},
        {"title": "Report", "key": REPORT_KEY},
    ]
    web_ui.template_args["extended_tables"] = [
        {"key": CONVERSATIONS_KEY, "structure": [{"key": k, "title": t} for k, t in CONVERSATION_COLUMNS]},
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "/loadtest/socketio.csv", "title": "Download Socket.IO statistics CSV (merged timeline)"},
        {"href": "/loadtest/summary", "title": "Download the live summary.json"},
    ]

    def flat_rows() -> list[Row]:
        return table_rows(runtime.total, window(runtime.history.recent(RECENT_SECONDS)))

    @app.after_request
    def extend_locust_pages(response: Response) -> Response:
        if response.status_code != 200:
            return response
        if request.path.endswith("/stats/requests"):
            data = response.get_json(silent=True)
            if isinstance(data, dict):
                data["extended_stats"] = [
                    {"key": CONVERSATIONS_KEY, "data": live_rows(runtime)},
                    {"key": SOCKETIO_KEY, "data": flat_rows()},
                ]
                response.set_data(json.dumps(data))
        elif (request.endpoint or "").endswith("index") and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            if SCRIPT_TAG not in page and "</body>" in page:
                response.set_data(page.replace("</body>", SCRIPT_TAG + "\n</body>", 1))
        return response

    @app.route("/loadtest/webui.js")
    def webui_js() -> Response:
        resp = make_response(webui_script())
        resp.headers["Content-Type"] = "text/javascript; charset=utf-8"
        return resp

    @app.route("/loadtest/summary")
    def summary() -> Response:
        try:
            data = live.summary()
        except RenderError as exc:
            return _json({"error": f"the live summary could not be built: {exc}"}, 503)
        if data is None:
            return _json({"error": "no run has started yet"}, 404)
        return _json(data)

    @app.route("/loadtest/report.json")
    def report_state() -> Response:
        rendered = live.plots(wait_first=True)
        runlog = runtime.runlog
        state = str(getattr(environment.runner, "state", "") or "")
        data: dict[str, object] = {"run": None, "state": state, "figures": [], "report_html": None}
        if runlog is None:
            return _json(data)
        html = live.report_html()
        skipped = runtime.settings is not None and runtime.settings.skip_report
        data.update(
            run=str(runlog.get("label") or runlog.folder.name),
            folder=runlog.folder.name,
            seconds=len(runtime.history),
            rendering=live.rendering,
            generated_at=rendered.made_at if rendered else None,
            figures=_figures(rendered),
            notes=rendered.notes if rendered else [],
            report_html="/loadtest/report.html" if html is not None else None,
            report_note=_report_note(skipped=skipped, finished=bool(runtime.finished)),
        )
        return _json(data)

    @app.route("/loadtest/report/<name>.png")
    def report_plot(name: str) -> Response:
        rendered = live.plots(wait_first=False)
        if rendered is None or name not in rendered.images:
            abort(404)
        resp = make_response(rendered.images[name][1])
        resp.headers["Content-Type"] = "image/png"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.route("/loadtest/report.html")
    def report_html() -> Response:
        path = live.report_html()
        if path is None:
            abort(404)
        name = f"{runtime.runlog.folder.name}-report.html" if runtime.runlog is not None else "report.html"
        return send_file(path, mimetype="text/html", as_attachment=True, download_name=name, max_age=0)

    @app.route("/loadtest/socketio.csv")
    def socketio_csv() -> Response:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[k for k, _ in COLUMNS], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(flat_rows())
        resp = make_response(out.getvalue())
        resp.headers["Content-Type"] = "text/csv"
        resp.headers["Content-Disposition"] = "attachment;filename=socketio_stats.csv"
        return resp

    @app.route("/loadtest/timeline.json")
    def timeline_json() -> Response:
        lines = []
        runlog = runtime.runlog
        for s in runtime.history.recent(60):
            t = s.second - runtime.start_second
            step = runlog.steps.at(t) if runlog is not None else 0
            lines.append(to_line(s, t=t, step=step, workers=max(len(s.health), 1)))
        return _json(lines)
