"""Read a run folder (`run.json`, `timeline.jsonl`, Locust's CSVs) into plain data.

Everything is optional except that a folder with neither a timeline nor a `run.json` is refused: a run
that crashed or was interrupted still has what it managed to write, and the report is built from that.
The layout is DESIGN §1; the formats are pinned in ``docs/contracts.md``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.timeline import Second, parse_lines

__all__ = ["LOCUST_CSVS", "RunData", "RunFolderError", "load_run"]

# Locust's --csv outputs that the report shows as tables (file suffix → title).
LOCUST_CSVS: dict[str, str] = {
    "stats": "Locust statistics",
    "failures": "Locust failures",
    "exceptions": "Locust exceptions",
}


class RunFolderError(Exception):
    """The folder is missing or holds nothing a report can be built from."""


@dataclass(frozen=True, slots=True)
class RunData:
    """What a run folder holds, read once."""

    path: Path
    run: dict[str, Any] = field(default_factory=dict)
    seconds: list[Second] = field(default_factory=list)
    dropped_lines: int = 0
    has_run_json: bool = False
    has_timeline: bool = False
    locust: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _read_run_json(path: Path, notes: list[str]) -> tuple[dict[str, Any], bool]:
    file = path / "run.json"
    if not file.is_file():
        notes.append("run.json is missing: settings, steps and SLO results are unknown.")
        return {}, False
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        notes.append(f"run.json could not be read ({type(exc).__name__}); it is ignored.")
        return {}, False
    if not isinstance(data, dict):
        notes.append("run.json is not a JSON object; it is ignored.")
        return {}, False
    return data, True


def _read_timeline(path: Path, notes: list[str]) -> tuple[list[Second], int, bool]:
    file = path / "timeline.jsonl"
    if not file.is_file():
        notes.append("timeline.jsonl is missing: no per-second data.")
        return [], 0, False
    text = file.read_bytes().decode("utf-8", errors="replace")
    seconds, dropped = parse_lines(text.splitlines())
    if dropped:
        notes.append(
            f"timeline.jsonl: {dropped} incomplete or unreadable line(s) dropped "
            f"(a run that crashed or was interrupted); the report uses the {len(seconds)} complete one(s)."
        )
    return seconds, dropped, True


def _read_locust_csvs(path: Path) -> dict[str, list[dict[str, str]]]:
    tables: dict[str, list[dict[str, str]]] = {}
    for suffix in LOCUST_CSVS:
        file = path / f"locust_{suffix}.csv"
        if not file.is_file():
            continue
        try:
            with file.open(newline="", encoding="utf-8", errors="replace") as fh:
                tables[suffix] = [dict(row) for row in csv.DictReader(fh)]
        except (OSError, csv.Error):
            continue
    return tables


def load_run(path: Path | str) -> RunData:
    """Read the run folder at ``path``; raises :class:`RunFolderError` when there is nothing to read."""
    folder = Path(path)
    if not folder.is_dir():
        raise RunFolderError(f"{folder}: not a directory")
    notes: list[str] = []
    run, has_run = _read_run_json(folder, notes)
    seconds, dropped, has_timeline = _read_timeline(folder, notes)
    if not has_run and not has_timeline:
        raise RunFolderError(f"{folder}: neither run.json nor timeline.jsonl found; is this a run folder?")
    if has_run and not run.get("ended_at"):
        notes.append("run.json has no end time: the run did not finish normally (crash or interrupt).")
    return RunData(
        path=folder,
        run=run,
        seconds=seconds,
        dropped_lines=dropped,
        has_run_json=has_run,
        has_timeline=has_timeline,
        locust=_read_locust_csvs(folder),
        notes=notes,
    )
