"""Reading run folders: timeline parsing, truncated lines, missing files, tolerant field reading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.report.runfolder import RunFolderError, load_run
from loadtest.timeline import from_line as parse_second
from loadtest.timeline import parse_lines
from tests.report.helpers import RUNS, copy_run


def test_missing_keys_are_zero_and_unknown_keys_are_ignored() -> None:
    s = parse_second({"t": 3, "future_field": {"x": 1}, "counters": {"actions": 2, "new_counter": 9}})
    assert (s.t, s.users, s.actions, s.events, s.gaps, s.offered_rate) == (3, 0, 2, 0, 0, 0.0)
    assert s.throttled == {} and s.metrics == {} and s.step is None


def test_wrong_types_read_as_zero_not_as_a_crash() -> None:
    s = parse_second({"t": 1, "users": "many", "counters": {"actions": None, "throttled": {"http_429": "x", "a": 2}}})
    assert s.users == 0 and s.actions == 0 and s.throttled == {"a": 2}


def test_histograms_are_read_back() -> None:
    line = {"t": 0, "metrics": {"echo": {"n": 2, "sum": 30.0, "min": 10.0, "max": 20.0, "b": {"116": 1, "151": 1}}}}
    s = parse_second(line)
    assert s.metrics["echo"].count == 2 and s.metrics["echo"].max == 20.0


def test_truncated_last_line_is_dropped_and_counted() -> None:
    good = [json.dumps({"t": t, "counters": {"actions": 1}}) for t in range(3)]
    lines = [*good, good[0][:7]]
    seconds, dropped = parse_lines(lines)
    assert [s.t for s in seconds] == [0, 1, 2] and dropped == 1


def test_non_object_and_t_less_lines_are_dropped_blank_lines_ignored() -> None:
    seconds, dropped = parse_lines(['{"t": 1}', "", "[1,2]", '{"users": 3}', '{"t": 0}'])
    assert [s.t for s in seconds] == [0, 1] and dropped == 2


def test_crash_fixture_reports_what_was_recorded() -> None:
    data = load_run(RUNS / "steps-crash")
    assert data.dropped_lines == 1
    assert len(data.seconds) == 47 and data.seconds[-1].t == 46
    assert any("dropped" in n for n in data.notes) and any("no end time" in n for n in data.notes)
    assert data.locust == {}


def test_missing_run_json_is_tolerated(tmp_path: Path) -> None:
    folder = copy_run("steps-throttle", tmp_path)
    (folder / "run.json").unlink()
    data = load_run(folder)
    assert not data.has_run_json and data.run == {} and len(data.seconds) == 60
    assert any("run.json is missing" in n for n in data.notes)


def test_locust_csvs_are_read_when_present() -> None:
    data = load_run(RUNS / "steps-throttle")
    assert {"stats", "failures", "exceptions"} <= set(data.locust)
    assert any(r["Name"] == "echo" for r in data.locust["stats"])


def test_a_folder_without_run_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match=r"neither run\.json nor timeline\.jsonl"):
        load_run(tmp_path)
    with pytest.raises(RunFolderError, match="not a directory"):
        load_run(tmp_path / "nope")
