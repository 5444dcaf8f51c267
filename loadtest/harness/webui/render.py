"""The web UI's renderer process: the report package's analysis, summary and plots of a live run folder.

``python -m loadtest.harness.webui.render`` reads one JSON request per line on stdin and answers
with one JSON line on stdout, until stdin closes (so it ends with the Locust process that started
it). Drawing the plots takes a second or two of CPU; in a separate process it never holds the
load generator's GIL, so viewing the Report tab does not stall the gevent loop (a thread did: the
loop lagged 60 to 120 ms during each drawing).

Request: ``{"folder": path, "lines": n, "run": {...}, "plots": bool, "dpi": 80}``. The folder's
``timeline.jsonl`` (the master's merged timeline in distributed mode) is read with the report
package's own reader: its complete lines of this run (``ts`` from ``run["started_ts"]`` on, since a
reused ``--report-dir`` also holds earlier runs), at most the ``n`` the harness had written when it
asked. ``run`` stands in for ``run.json`` (the harness's live copy), and :func:`analyze`,
:func:`summary_dict` and :func:`make_figure` do the rest, as for a finished run. Answer:
``{"summary": {...}, "seconds": n, "notes": [...], "images": {name: [caption, base64 png]}}``,
or ``{"error": "..."}``.

Imports neither Locust nor gevent.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import IO, TypedDict

__all__ = ["answer", "complete_lines", "main"]


def complete_lines(path: Path) -> list[str]:
    """Every line of ``path`` that ends in a newline (the last one may still be being written)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    return lines[:-1]  # the text after the last newline is incomplete (or empty)


class RenderRequest(TypedDict):
    """One request to the renderer: the run folder, its complete lines, the live run.json, what to draw."""

    folder: str
    lines: int
    run: dict[str, object]
    plots: bool
    dpi: int


class RenderReply(TypedDict, total=False):
    """The renderer's answer: ``summary.json``, the seconds it covers, the plots (name → caption, base64
    png) and the report's notes; or ``error``."""

    summary: dict[str, object]
    seconds: int
    images: dict[str, list[str]]
    notes: list[str]
    error: str


def answer(request: RenderRequest) -> RenderReply:
    """Build the summary (and the plots when asked) for one request."""
    from loadtest.report.assemble import analyze, summary_dict
    from loadtest.report.runfolder import RunData
    from loadtest.timeline import parse_lines

    folder = Path(str(request["folder"]))
    run = request.get("run") or {}
    seconds, dropped = parse_lines(complete_lines(folder / "timeline.jsonl"))
    started = run.get("started_ts")
    if isinstance(started, int | float):  # a reused --report-dir holds earlier runs' lines too
        seconds = [s for s in seconds if s.ts >= int(started) - 1]
    seconds = seconds[: int(request.get("lines", len(seconds)))]  # the lines the harness had written
    notes = (
        [] if run.get("ended_at") else ["live: the run is still going; the figures cover the seconds written so far."]
    )
    data = RunData(
        path=folder,
        run=run,
        seconds=seconds,
        dropped_lines=dropped,
        has_run_json=True,
        has_timeline=True,
        notes=notes,
    )
    analysis = analyze(data)
    images: dict[str, list[str]] = {}
    out: RenderReply = {"summary": summary_dict(analysis), "seconds": len(seconds), "images": images}
    if request.get("plots"):
        from loadtest.report.figures import FIGURES, make_figure

        for name, (caption, _) in FIGURES.items():
            try:
                fig = make_figure(name, analysis)
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=int(request.get("dpi", 80)))
            except Exception as exc:  # one plot that cannot be drawn must not cost the others
                analysis.notes.append(f"plot {name} could not be drawn: {type(exc).__name__}: {exc}")
                continue
            images[name] = [caption, base64.b64encode(buf.getvalue()).decode("ascii")]
    out["notes"] = list(analysis.notes)
    return out


def main(stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    src = stdin or sys.stdin
    dst = stdout or sys.stdout
    for line in src:  # ends when the harness closes the pipe or exits
        if not line.strip():
            continue
        try:
            reply = answer(json.loads(line))
        except Exception as exc:  # answer every request, so the harness never waits for nothing
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        dst.write(json.dumps(reply) + "\n")
        dst.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
