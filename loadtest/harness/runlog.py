"""The run folder: ``run.json`` and ``timeline.jsonl`` (``docs/contracts.md``), and the report at the end.

The folder is ``--report-dir`` or ``reports/<UTC timestamp>-<label>/`` under the working directory.
``timeline.jsonl`` gets one line per second as the run goes (flushed each time, so a crash loses at
most the last seconds). ``run.json`` is written at the start (no ``ended_at`` yet) and rewritten at
the end with the verdict. Secrets never reach either file: settings come from
:meth:`Settings.public_dict`, which redacts them.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from loadtest.harness.options import Settings

__all__ = ["RunLog", "run_folder"]

logger = logging.getLogger(__name__)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_folder(settings: Settings, label: str, now: datetime, base: Path | None = None) -> Path:
    """``--report-dir`` if given, else ``reports/<stamp>-<label>``; a used default name gets ``-2``, ``-3``..."""
    if settings.report_dir:
        return Path(settings.report_dir)
    root = (base or Path.cwd()) / "reports"
    folder = root / f"{_stamp(now)}-{label}"
    n = 2
    while folder.exists():
        folder = root / f"{_stamp(now)}-{label}-{n}"
        n += 1
    return folder


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("locust", "loadtest", "gevent"):
        try:
            from importlib.metadata import version

            out[name] = version(name)
        except Exception:  # pragma: no cover - an uninstalled package
            out[name] = "unknown"
    return out


class RunLog:
    """One run's folder, open for the whole run."""

    def __init__(self, folder: Path, run: dict[str, Any]) -> None:
        self.folder = folder
        self.run = run
        folder.mkdir(parents=True, exist_ok=True)
        self._timeline: IO[str] | None = open(folder / "timeline.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.lines = 0
        self.write_run_json()

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        profile: list[str],
        shape: str | None,
        now: datetime | None = None,
    ) -> RunLog:
        when = now or datetime.now(UTC)
        label = settings.run_label or (shape_label(shape) or "-".join(p.lower() for p in profile) or "run")
        folder = run_folder(settings, label, when)
        run: dict[str, Any] = {
            "label": label,
            "started_at": _iso(when),
            "started_ts": when.timestamp(),
            "ended_at": None,
            "target": settings.host,
            "profile": profile,
            "shape": shape,
            "settings": settings.public_dict(),
            "versions": _versions(),
            "pid": os.getpid(),
            "exit_code": None,
            "verdict": None,
            "slo": [],
            "steps": [],
            "notes": [],
        }
        return cls(folder, run)

    def append(self, line: dict[str, Any]) -> None:
        """One timeline line, written and flushed at once."""
        if self._timeline is None:
            return
        self._timeline.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._timeline.flush()
        self.lines += 1

    def note(self, text: str) -> None:
        if text not in self.run["notes"]:
            self.run["notes"].append(text)

    def write_run_json(self) -> None:
        path = self.folder / "run.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.run, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        tmp.replace(path)

    def finish(self, *, exit_code: int, verdict: str, reason: str = "", now: datetime | None = None) -> None:
        """Close the timeline and write the final ``run.json`` (with the verdict's one-line reason)."""
        self.run["ended_at"] = _iso(now or datetime.now(UTC))
        self.run["exit_code"] = exit_code
        self.run["verdict"] = verdict
        self.run["verdict_reason"] = reason
        if self._timeline is not None:
            self._timeline.close()
            self._timeline = None
        self.write_run_json()

    def build_report(self) -> None:
        """``loadtest.report.build_report(folder)`` when the report package has it; else a log line."""
        try:
            report = importlib.import_module("loadtest.report")
        except ImportError:
            report = None
        build = getattr(report, "build_report", None)
        if build is None:
            logger.info("report skipped: loadtest.report.build_report is not available; run data is in %s", self.folder)
            return
        try:
            result = build(self.folder)
        except Exception as exc:  # a report bug must not turn a good run into a crash
            logger.error("report could not be built from %s: %r", self.folder, exc)
            self.note(f"report failed: {type(exc).__name__}")
            self.write_run_json()
            return
        where = getattr(result, "report_html", None) or self.folder
        logger.info("report: %s", where)
        print(f"loadtest run folder: {self.folder}", file=sys.stderr)


def shape_label(shape: str | None) -> str:
    if not shape:
        return ""
    name = shape.removesuffix("Shape").lower()
    return name.removesuffix("search") or name
