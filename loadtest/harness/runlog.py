"""The run folder: ``run.json`` and ``timeline.jsonl`` (``docs/contracts.md``), and the report at the end.

The folder is ``--report-dir`` or ``reports/<UTC timestamp>-<label>/`` under the working directory.
``timeline.jsonl`` gets one line per second as the run goes (flushed each time, so a crash loses at
most the last seconds). ``run.json`` is written at the start (no ``ended_at`` yet) and rewritten at
the end with the verdict. Its content changes only through :class:`RunLog`'s methods (steps, notes, the
search results of a shape, the verdict); readers get a copy (:meth:`RunLog.snapshot`). Secrets never
reach either file: settings come from :meth:`Settings.public_dict`, which redacts them.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from loadtest.harness.options import Settings
from loadtest.slo import SloResult
from loadtest.steps import StepLog

#: ``run.json`` as a JSON object (``docs/contracts.md``).
RunJson = dict[str, object]

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

    def __init__(self, folder: Path, run: RunJson) -> None:
        self.folder = folder
        self._run = run
        self.steps = StepLog()
        self._notes: list[str] = []
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
        run: RunJson = {
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

    # -- reading -------------------------------------------------------------------------------------

    def get(self, key: str) -> object:
        """One entry of ``run.json`` as it stands (None when absent)."""
        if key == "steps":
            return self.steps.to_dicts()
        if key == "notes":
            return list(self._notes)
        return self._run.get(key)

    def snapshot(self) -> RunJson:
        """A copy of ``run.json`` as it stands (the live steps included), safe to change or send."""
        run: RunJson = json.loads(json.dumps(self._run, default=str))
        run["steps"] = self.steps.to_dicts()
        run["notes"] = list(self._notes)
        return run

    @property
    def profile(self) -> list[str]:
        profile = self._run.get("profile")
        return [str(p) for p in profile] if isinstance(profile, list) else []

    # -- changing --------------------------------------------------------------------------------------

    def begin_step(self, index: int, t: int, users: int | None, offered_rate: float | None) -> None:
        """Step ``index`` is in force from run second ``t`` (see :meth:`loadtest.steps.StepLog.begin`)."""
        self.steps.begin(index, t, users, offered_rate)

    def set_slo_source(self, source: str) -> None:
        self._run["slo_source"] = source

    def has_result(self, key: str) -> bool:
        return key in self._run

    def record_result(self, key: str, value: object) -> None:
        """A shape's finding (``capacity``, ``throttle_onset``, ``throttle_search``: JSON values), written once."""
        if key not in self._run:
            self._run[key] = value

    def append(self, line: dict[str, object]) -> None:
        """One timeline line, written and flushed at once."""
        if self._timeline is None:
            return
        self._timeline.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._timeline.flush()
        self.lines += 1

    def note(self, text: str) -> None:
        if text not in self._notes:
            self._notes.append(text)

    def write_run_json(self) -> None:
        path = self.folder / "run.json"
        tmp = path.with_suffix(".json.tmp")
        run = {**self._run, "steps": self.steps.to_dicts(), "notes": self._notes}
        tmp.write_text(json.dumps(run, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        tmp.replace(path)

    def finish(
        self,
        *,
        exit_code: int,
        verdict: str,
        reason: str = "",
        slo: Sequence[SloResult] = (),
        end_t: int | None = None,
        late_slices: int = 0,
        bottleneck_warnings: int = 0,
        now: datetime | None = None,
    ) -> None:
        """Close the timeline and write the final ``run.json``: the objectives' results, the steps (the last
        one ends at ``end_t``), the timeline's size, the verdict and its one-line reason."""
        if end_t is not None:
            self.steps.close(end_t)
        self._run["slo"] = [r.to_dict() for r in slo]
        self._run["timeline"] = {"seconds": self.lines, "late_slices": late_slices}
        self._run["health"] = {"bottleneck_warnings": bottleneck_warnings}
        self._run["ended_at"] = _iso(now or datetime.now(UTC))
        self._run["exit_code"] = exit_code
        self._run["verdict"] = verdict
        self._run["verdict_reason"] = reason
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
