"""Rebuild plots, summary.json, summary.md and report.html from a run folder.

Reads only what the run recorded (run.json, timeline.jsonl, Locust CSVs), so it works on a run that
crashed or was interrupted. Prints the paths of report.html and summary.md last.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loadtest.report.build import build_report
from loadtest.report.runfolder import RunFolderError

__all__ = ["EPILOG", "add_arguments", "run"]

EPILOG = """examples:
  loadtest report reports/20251126T010000Z-chat
  loadtest report tests/data/runs/steps-throttle

exit status: 0 report written, 1 the folder holds no run data, 2 bad usage"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="DIR", type=Path, help="run folder (holds run.json and/or timeline.jsonl)")


def run(args: argparse.Namespace) -> int:
    folder: Path = args.run_dir
    if not folder.is_dir():
        print(
            f"loadtest report: DIR {str(folder)!r} is not a directory; pass a run folder, "
            "e.g. loadtest report reports/20251126T010000Z-chat",
            file=sys.stderr,
        )
        return 2
    try:
        result = build_report(folder)
    except RunFolderError as exc:
        print(f"loadtest report: {exc}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(f"note: {note}")
    print(f"verdict: {result.verdict}: {result.verdict_reason}")
    print(f"plots: {result.report_html.parent / 'plots'} ({len(result.plots)} PNG)")
    print(f"summary.json: {result.summary_json}")
    print(f"report.html: {result.report_html}")
    print(f"summary.md: {result.summary_md}")
    return 0
