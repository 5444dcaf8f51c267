"""Build a run folder's report: read it, analyse it, write plots, `summary.json`, `summary.md`, `report.html`.

This is the one entry point ``loadtest bench`` and ``loadtest report`` call. It reads only files; a run
that crashed still gets a report from what it recorded.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, NamedTuple

from loadtest.report.assemble import Analysis, analyze, summary_dict, verdict_reason
from loadtest.report.figures import FIGURES, make_figure
from loadtest.report.render import summary_json, summary_markdown
from loadtest.report.render_html import report_html
from loadtest.report.runfolder import load_run

__all__ = ["ReportResult", "build_report"]


class ReportResult(NamedTuple):
    """What :func:`build_report` wrote, and the verdict (``"pass"``, ``"fail"`` or ``"error"``) with its reason."""

    report_html: Path
    summary_md: Path
    summary_json: Path
    plots: dict[str, Path]
    verdict: str
    summary: dict[str, Any]
    notes: list[str]
    verdict_reason: str = ""


def _write(path: Path, text: str) -> Path:
    """Write atomically (temp file + rename), so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def build_report(run_dir: Path | str) -> ReportResult:
    """Rebuild every report file of the run folder ``run_dir`` from its recorded data.

    Raises :class:`~loadtest.report.runfolder.RunFolderError` when the folder holds no run data.
    """
    folder = Path(run_dir)
    analysis: Analysis = analyze(load_run(folder))
    plots_dir = folder / "plots"
    plots_dir.mkdir(exist_ok=True)
    plots: dict[str, Path] = {}
    images: dict[str, tuple[str, bytes]] = {}
    for name, (caption, _) in FIGURES.items():
        try:
            fig = make_figure(name, analysis)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
        except Exception as exc:  # one plot that cannot be drawn must not cost the whole report
            analysis.notes.append(f"plot {name} could not be drawn: {type(exc).__name__}: {exc}")
            continue
        png = buf.getvalue()
        path = plots_dir / f"{name}.png"
        path.write_bytes(png)
        plots[name] = path
        images[name] = (caption, png)
    summary = summary_dict(analysis)
    return ReportResult(
        report_html=_write(folder / "report.html", report_html(analysis, images)),
        summary_md=_write(folder / "summary.md", summary_markdown(analysis)),
        summary_json=_write(folder / "summary.json", summary_json(analysis)),
        plots=plots,
        verdict=analysis.verdict,
        verdict_reason=verdict_reason(analysis),
        summary=summary,
        notes=list(analysis.notes),
    )
