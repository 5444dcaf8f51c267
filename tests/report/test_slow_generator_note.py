"""The report says when slow REST answers were the generator's own loop lag (``slow_generator``)."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.report import build_report
from tests.report.helpers import copy_run


def _add_slow_generator(folder: Path, counts: list[int]) -> None:
    timeline = folder / "timeline.jsonl"
    lines = [json.loads(x) for x in timeline.read_text(encoding="utf-8").splitlines() if x.strip()]
    for line, n in zip(lines, counts, strict=False):
        line["counters"]["slow_generator"] = n
    timeline.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def test_the_report_names_slow_generator_answers(tmp_path: Path) -> None:
    folder = copy_run("steps-baseline", tmp_path)
    _add_slow_generator(folder, [2, 0, 5])
    result = build_report(folder)
    note = "7 slow REST answer(s) were the load generator's own loop lag, not throttling (slow_generator)."
    assert note in result.notes
    assert note in result.summary_md.read_text(encoding="utf-8")
    assert "slow_generator" in result.report_html.read_text(encoding="utf-8")


def test_no_note_without_slow_generator_answers(tmp_path: Path) -> None:
    result = build_report(copy_run("steps-baseline", tmp_path))
    assert not [n for n in result.notes if "slow_generator" in n]
