"""Reports built from recorded run folders: summary.json against the timeline, PNGs, self-contained HTML,
the crash path, and `loadtest report` as a subprocess."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtest.histogram import Histogram
from loadtest.report import build_report
from loadtest.report.build import ReportResult
from tests.report.helpers import RUNS, copy_run
from tests.report.make_fixture import VARIANTS, generate

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXPECTED_PLOTS = {"load", "latency_over_time", "latency_cdf", "throughput", "throttle", "recovery", "capacity"}
SECRETS = ("sk-fixture-secret", "fixture-cookie")
REAL_RUNS = ("real-reconnect-15s",)  # recorded with `loadtest bench` (see the folder's README.md)
ALL_RUNS = (*VARIANTS, *REAL_RUNS)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, ReportResult]]:
    """Each fixture run copied and reported once for the whole module."""
    base = tmp_path_factory.mktemp("runs")
    out = {}
    for name in ALL_RUNS:
        folder = copy_run(name, base)
        out[name] = (folder, build_report(folder))
    return out


def timeline(folder: Path) -> list[dict[str, Any]]:
    """The timeline read independently of the report code (complete lines only)."""
    lines = []
    for raw in (folder / "timeline.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def test_committed_fixtures_are_what_the_generator_writes(tmp_path: Path) -> None:
    for name in VARIANTS:
        generate(tmp_path / name, name)
        for file in sorted(f for f in (RUNS / name).iterdir() if f.name != "README.md"):
            assert (tmp_path / name / file.name).read_bytes() == file.read_bytes(), f"{name}/{file.name} is stale"


@pytest.mark.slow
def test_summary_json_has_exactly_the_design_shape(built: dict[str, tuple[Path, ReportResult]]) -> None:
    for _folder, result in built.values():
        s = json.loads(result.summary_json.read_text(encoding="utf-8"))
        assert set(s) == {
            "run",
            "metrics",
            "counters",
            "throttle_onset",
            "capacity",
            "slo",
            "verdict",
            "verdict_reason",
        }
        assert set(s["counters"]) == {
            "actions",
            "events",
            "gaps",
            "duplicates",
            "out_of_order",
            "throttled",
            "disconnects",
        }
        for m in s["metrics"].values():
            assert set(m) == {"count", "failures", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"}
        if s["throttle_onset"] is not None:
            assert set(s["throttle_onset"]) == {"offered_rate", "signal", "at_s"}
        if s["capacity"] is not None:
            assert set(s["capacity"]) == {"max_conversations_within_slo", "knee_conversations", "slo"}
        for slo in s["slo"]:
            assert set(slo) == {"expr", "value", "ok"}
        assert s["verdict"] in ("pass", "fail")


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_RUNS)
def test_summary_numbers_match_the_timeline(name: str, built: dict[str, tuple[Path, ReportResult]]) -> None:
    folder, result = built[name]
    s = json.loads(result.summary_json.read_text(encoding="utf-8"))
    lines = timeline(folder)
    counters = [line.get("counters", {}) for line in lines]
    for key in ("actions", "events", "gaps", "duplicates", "out_of_order"):
        assert s["counters"][key] == sum(c.get(key, 0) for c in counters), key
    for group in ("throttled", "disconnects"):
        want: dict[str, int] = {}
        for c in counters:
            for k, v in c.get(group, {}).items():
                want[k] = want.get(k, 0) + v
        assert s["counters"][group] == want, group
    names = {m for line in lines for m in line.get("metrics", {})}
    assert set(s["metrics"]) == names
    for metric in names:
        merged = Histogram.merged(
            Histogram.from_dict(line["metrics"][metric]) for line in lines if metric in line.get("metrics", {})
        )
        got = s["metrics"][metric]
        assert got["count"] == sum(line["metrics"][metric]["n"] for line in lines if metric in line.get("metrics", {}))
        assert got["failures"] == sum(c.get("failures", {}).get(metric, 0) for c in counters)
        for q in (50, 90, 95, 99):
            assert got[f"p{q}_ms"] == pytest.approx(merged.percentile(q), abs=1e-3)
        assert got["max_ms"] == pytest.approx(
            max(line["metrics"][metric]["max"] for line in lines if metric in line.get("metrics", {})), abs=1e-3
        )
    assert s["run"]["timeline_seconds"] == len(lines)


@pytest.mark.slow
def test_percentiles_agree_with_the_raw_samples_within_one_percent(
    built: dict[str, tuple[Path, ReportResult]], tmp_path: Path
) -> None:
    truth = generate(tmp_path / "steps-throttle", "steps-throttle")
    s = built["steps-throttle"][1].summary
    for metric, values in truth.samples.items():
        assert s["metrics"][metric]["count"] == len(values)
        for q in (50, 95, 99):
            want = exact(values, q)
            assert abs(s["metrics"][metric][f"p{q}_ms"] - want) / want <= 0.01, (metric, q)
    assert s["counters"]["throttled"] == truth.throttled


@pytest.mark.slow
def test_headline_answers_for_the_throttled_run(built: dict[str, tuple[Path, ReportResult]]) -> None:
    s = built["steps-throttle"][1].summary
    assert s["verdict"] == "fail"  # throttled.ratio<1% breached, exit code 3
    assert s["throttle_onset"] == {
        "offered_rate": pytest.approx(5.333, abs=0.01),
        "signal": "rate_limited_state",
        "at_s": 34,
    }
    assert s["capacity"]["max_conversations_within_slo"] == 10 and s["capacity"]["knee_conversations"] == 10
    assert [x["ok"] for x in s["slo"]] == [True, True, False]
    base = built["steps-baseline"][1].summary
    assert base["verdict"] == "pass" and base["throttle_onset"] is None
    assert base["capacity"]["knee_conversations"] == 20 and base["capacity"]["max_conversations_within_slo"] == 40


@pytest.mark.slow
def test_crashed_run_still_gets_a_report(built: dict[str, tuple[Path, ReportResult]]) -> None:
    _folder, result = built["steps-crash"]
    s = result.summary
    assert s["run"]["timeline_dropped_lines"] == 1 and s["run"]["complete"] is False
    assert s["run"]["timeline_seconds"] == 47
    # no SLO results in run.json: the report evaluated the declared SLOs itself
    assert [x["expr"] for x in s["slo"]] == ["echo.p95<250ms", "turn.p95<8s", "throttled.ratio<1%"]
    assert all(x["ok"] is not None for x in s["slo"])
    text = result.report_html.read_text(encoding="utf-8")
    assert "dropped" in text and "did not finish normally" in text
    assert "dropped" in result.summary_md.read_text(encoding="utf-8")


@pytest.mark.slow
def test_every_plot_is_a_valid_png(built: dict[str, tuple[Path, ReportResult]]) -> None:
    import matplotlib.image

    for folder, result in built.values():
        assert set(result.plots) >= EXPECTED_PLOTS
        for name, path in result.plots.items():
            assert path.parent == folder / "plots" and path.name == f"{name}.png"
            assert path.read_bytes()[:8] == PNG_MAGIC
            img = matplotlib.image.imread(path)
            assert img.shape[0] >= 300 and img.shape[1] >= 800


@pytest.mark.slow
def test_report_html_is_self_contained(built: dict[str, tuple[Path, ReportResult]]) -> None:
    for _folder, result in built.values():
        text = result.report_html.read_text(encoding="utf-8")
        images = re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"', text)
        assert len(images) == len(result.plots)
        stripped = re.sub(r'"data:image/png;base64,[A-Za-z0-9+/=]+"', '""', text)
        lowered = stripped.lower()
        for needle in ("http:", "https:", "//", "url(", "@import", "<link", "<script", "href="):
            assert needle not in lowered, needle
        assert len(re.findall(r"src=", lowered)) == len(images)
        # the first screen comes before the plots
        for heading in ("Capacity", "Throttle onset", "Key percentiles", "SLOs"):
            assert text.index(heading) < text.index('id="plots"')


@pytest.mark.slow
def test_no_secret_reaches_any_report_file(built: dict[str, tuple[Path, ReportResult]]) -> None:
    for folder, result in built.values():
        for path in (result.report_html, result.summary_md, result.summary_json):
            text = path.read_text(encoding="utf-8")
            for secret in SECRETS:
                assert secret not in text, (folder.name, path.name)


@pytest.mark.slow
def test_summary_md_is_a_ci_summary(built: dict[str, tuple[Path, ReportResult]]) -> None:
    md = built["steps-throttle"][1].summary_md.read_text(encoding="utf-8")
    assert md.startswith("## loadtest: steps-throttle — ❌ FAIL")
    assert "| throttled.ratio<1% | 20.22% | ❌ breached |" in md
    assert "rate_limited_state from 20 users" in md


@pytest.mark.slow
def test_loadtest_report_subprocess_prints_the_paths_last(tmp_path: Path) -> None:
    folder = copy_run("steps-crash", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", "report", str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-2:]
    assert last == [f"report.html: {folder / 'report.html'}", f"summary.md: {folder / 'summary.md'}"]
    assert (folder / "summary.json").is_file() and (folder / "plots" / "capacity.png").is_file()


@pytest.mark.slow
def test_loadtest_report_exit_codes_for_bad_folders(tmp_path: Path) -> None:
    def run(arg: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "loadtest", "report", arg], cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    missing = run(str(tmp_path / "nope"))
    assert missing.returncode == 2 and "DIR" in missing.stderr and "e.g. loadtest report" in missing.stderr
    empty = run(str(tmp_path))
    assert empty.returncode == 1 and "neither run.json nor timeline.jsonl" in empty.stderr


def test_the_report_package_imports_no_locust() -> None:
    code = (
        "import sys, loadtest.report, loadtest.report.cli, loadtest.report.compare_cli; print('locust' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr


@pytest.mark.slow
def test_a_plot_that_fails_costs_only_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loadtest.report import figures

    def broken(_a: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setitem(figures.FIGURES, "health", ("Load-generator health", broken))  # type: ignore[arg-type]
    result = build_report(copy_run("steps-baseline", tmp_path))
    assert "health" not in result.plots and "capacity" in result.plots
    assert any("plot health could not be drawn" in n for n in result.notes)
    assert "plot health could not be drawn" in result.report_html.read_text(encoding="utf-8")


@pytest.mark.slow
def test_search_shape_answers_in_run_json_take_precedence(tmp_path: Path) -> None:
    folder = copy_run("steps-baseline", tmp_path)
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    run["throttle_onset"] = {"offered_rate": 12.0, "signal": "http_429", "at_s": 41, "throttle_ratio": 0.03}
    run["capacity"] = {
        "max_conversations_within_slo": 20,
        "first_failing_conversations": 40,
        "slo": ["turn.p95<8s"],
        "steps": [],
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    result = build_report(folder)
    s = result.summary
    assert s["throttle_onset"] == {"offered_rate": 12.0, "signal": "http_429", "at_s": 41}
    assert s["capacity"] == {"max_conversations_within_slo": 20, "knee_conversations": 20, "slo": "turn.p95<8s"}
    assert "capacity search" in result.summary_md.read_text(encoding="utf-8")
    run["throttle_onset"] = None  # the search ran and found no throttling
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    assert build_report(folder).summary["throttle_onset"] is None


@pytest.mark.slow
def test_the_real_run_reads_as_recorded(built: dict[str, tuple[Path, ReportResult]]) -> None:
    s = built["real-reconnect-15s"][1].summary
    assert s["run"]["complete"] is True and s["run"]["profile"] == ["ReconnectUser"]
    assert s["metrics"]["reconnect"]["count"] > 0 and s["counters"]["disconnects"].get("client_abort", 0) > 0
    assert s["slo"] == [{"expr": "echo.p95<250ms", "value": pytest.approx(10.24, abs=0.01), "ok": True}]
    assert s["verdict"] == "fail"  # Locust's exit code 1 (see the folder's README.md)
