"""Reports from run folders: analysis, plots, `summary.json`, `summary.md`, `report.html`, comparison.

Reads files only (never live objects) and imports no Locust. ``build_report(run_dir)`` is the entry
point for ``loadtest bench`` and ``loadtest report``; ``compare_summaries`` backs ``loadtest compare``.
"""

from __future__ import annotations

from loadtest.report.build import ReportResult, build_report
from loadtest.report.compare import Delta, compare_summaries
from loadtest.report.runfolder import RunData, RunFolderError, load_run

__all__ = ["Delta", "ReportResult", "RunData", "RunFolderError", "build_report", "compare_summaries", "load_run"]
