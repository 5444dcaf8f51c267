"""Run comparison: deltas, regression rules, and `loadtest compare` exit codes as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtest.report.compare import Delta, compare_summaries, regressions
from loadtest.report.compare_cli import parse_percent
from tests.report.helpers import copy_run

ROOT = Path(__file__).resolve().parents[2]


def summary(
    p95: float, *, failures: int = 0, actions: int = 1000, throttled: int = 0, knee: int | None = 20
) -> dict[str, Any]:
    return {
        "run": {"label": "x", "duration_s": 100},
        "metrics": {"echo": {"count": 1000, "failures": failures, "p50_ms": 10.0, "p95_ms": p95, "p99_ms": 2 * p95}},
        "counters": {
            "actions": actions,
            "events": 5000,
            "gaps": 0,
            "duplicates": 0,
            "out_of_order": 0,
            "throttled": {"http_429": throttled},
        },
        "throttle_onset": None,
        "capacity": {"max_conversations_within_slo": 10, "knee_conversations": knee, "slo": "s"},
        "slo": [],
        "verdict": "pass",
    }


def names(rows: list[Delta]) -> set[str]:
    return {r.name for r in regressions(rows)}


def test_identical_runs_have_no_regression() -> None:
    assert regressions(compare_summaries(summary(100), summary(100), 0.10)) == []


def test_latency_regression_beyond_the_bound() -> None:
    rows = compare_summaries(summary(100), summary(115), 0.10)
    assert names(rows) == {"echo.p95", "echo.p99"}
    assert regressions(compare_summaries(summary(100), summary(115), 0.20)) == []


def test_improvements_and_tiny_absolute_changes_are_not_regressions() -> None:
    assert regressions(compare_summaries(summary(100), summary(50), 0.10)) == []
    assert regressions(compare_summaries(summary(2.0), summary(2.4), 0.10, min_delta_ms=1.0)) == []  # +20 % but 0.4 ms


def test_throughput_drop_capacity_drop_and_new_throttling_regress() -> None:
    rows = compare_summaries(summary(100), summary(100, actions=800, throttled=50, knee=10), 0.10)
    assert {"throughput.actions_per_s", "throttled.ratio", "capacity.knee"} <= names(rows)


def test_throttle_onset_appearing_is_a_regression() -> None:
    new = summary(100)
    new["throttle_onset"] = {"offered_rate": 5.0, "signal": "http_429", "at_s": 3}
    assert "throttle_onset.offered_rate" in names(compare_summaries(summary(100), new, 0.10))


@pytest.mark.parametrize(("text", "value"), [("10%", 0.10), ("2.5 %", 0.025), ("0", 0.0), ("15", 0.15)])
def test_parse_percent(text: str, value: float) -> None:
    assert parse_percent(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["ten", "-5%", "nan", ""])
def test_parse_percent_rejects_bad_values(text: str) -> None:
    with pytest.raises(ValueError):
        parse_percent(text)


def compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtest", "compare", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("cmp")
    return {name: copy_run(name, base) for name in ("steps-baseline", "steps-throttle")}


def test_compare_exits_3_on_a_regression(runs: dict[str, Path]) -> None:
    proc = compare(str(runs["steps-baseline"]), str(runs["steps-throttle"]), "--max-regression", "10%")
    assert proc.returncode == 3, proc.stderr
    assert "REGRESSION" in proc.stdout and "turn.p95" in proc.stdout and "capacity.knee" in proc.stdout


def test_compare_exits_0_without_regression(runs: dict[str, Path]) -> None:
    same = compare(str(runs["steps-throttle"]), str(runs["steps-throttle"]))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no regression beyond 10%" in same.stdout
    better = compare(str(runs["steps-throttle"]), str(runs["steps-baseline"]), "--max-regression", "20%")
    assert better.returncode == 0, better.stdout  # the faster server: every change is within 20 % or better


def test_compare_uses_summary_json_when_present(runs: dict[str, Path], tmp_path: Path) -> None:
    folder = copy_run("steps-throttle", tmp_path)
    s = json.loads(json.dumps(summary(100)))
    (folder / "summary.json").write_text(json.dumps(s), encoding="utf-8")
    proc = compare(str(folder), str(folder))
    assert proc.returncode == 0 and "echo.p95" in proc.stdout and "turn.p95" not in proc.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-regression", "lots"], "--max-regression 'lots' is not valid; e.g. --max-regression 10%"),
        (["--max-regression=-3%"], "--max-regression '-3%'"),
        (["--min-delta-ms", "x"], "--min-delta-ms 'x' is not valid; e.g. --min-delta-ms 1"),
    ],
)
def test_compare_bad_options_exit_2_naming_option_value_and_example(
    runs: dict[str, Path], args: list[str], needle: str
) -> None:
    proc = compare(str(runs["steps-baseline"]), str(runs["steps-throttle"]), *args)
    assert proc.returncode == 2 and needle in proc.stderr


def test_compare_missing_folder_exits_2(tmp_path: Path, runs: dict[str, Path]) -> None:
    proc = compare(str(tmp_path / "missing"), str(runs["steps-baseline"]))
    assert proc.returncode == 2 and "BASE" in proc.stderr and "e.g. loadtest compare" in proc.stderr
