"""The report's first screen names the OpenHands API the run spoke (`run.json` settings ``api``), and the V1 token
metrics (``ttft``, ``token_gap``) appear in its metric tables when the run has samples of them."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from loadtest.report import build_report
from loadtest.report.render import api_text
from tests.report.helpers import copy_run, hist

TTFT_MS = [80.0, 90.0, 100.0, 110.0, 120.0]
TOKEN_GAP_MS = [5.0, 5.0, 6.0, 5.0]


def _v1_run(tmp_path: Path, settings: dict[str, Any], *, tokens: bool) -> Path:
    """A fixture run folder turned into a V1 run: the settings merged in, ttft and token_gap samples each second."""
    folder = copy_run("steps-baseline", tmp_path)
    run_json = folder / "run.json"
    run = json.loads(run_json.read_text(encoding="utf-8"))
    run["settings"] = {**run["settings"], **settings}
    run_json.write_text(json.dumps(run), encoding="utf-8")
    if tokens:
        timeline = folder / "timeline.jsonl"
        lines = [json.loads(x) for x in timeline.read_text(encoding="utf-8").splitlines() if x.strip()]
        for line in lines:
            line["metrics"]["ttft"] = hist(TTFT_MS).to_dict()
            line["metrics"]["token_gap"] = hist(TOKEN_GAP_MS).to_dict()
        timeline.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return folder


def _first_screen(report: Path) -> str:
    """The report's text before its first section heading after the cards, markup stripped."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", report.read_text(encoding="utf-8")))
    return " ".join(text.split())


def _row(md: str, name: str) -> str:
    return next((line for line in md.splitlines() if line.startswith(f"| {name} |")), "")


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        ({"api": "v1"}, "OpenHands V1 (events socket)"),
        ({"api": "v1", "v1_socket": "session"}, "OpenHands V1 (session socket)"),
        (
            {"api": "v1", "v1_socket": "events", "send_via": "rest"},
            "OpenHands V1 (events socket; messages sent over REST)",
        ),
        ({"api": "v0"}, "OpenHands V0 (Socket.IO)"),
    ],
)
def test_first_screen_and_summary_name_the_api(tmp_path: Path, settings: dict[str, Any], shown: str) -> None:
    result = build_report(_v1_run(tmp_path, settings, tokens=False))
    assert f"API: {shown} · profile" in _first_screen(result.report_html)
    assert _row(result.summary_md.read_text(encoding="utf-8"), "API") == f"| API | {shown} |"


def test_a_run_recorded_before_v1_spoke_v0() -> None:
    assert api_text({"settings": {"users": 4}}) == "OpenHands V0 (Socket.IO)"
    assert api_text({}) == "OpenHands V0 (Socket.IO)"


def test_auto_says_the_finding_is_not_recorded() -> None:
    assert api_text({"settings": {"api": "auto"}}).startswith("auto (probed at start; run.json does not record")


def test_token_metrics_appear_in_the_metric_tables(tmp_path: Path) -> None:
    result = build_report(_v1_run(tmp_path, {"api": "v1"}, tokens=True))
    md = result.summary_md.read_text(encoding="utf-8")
    seconds = sum(1 for x in (result.summary_md.parent / "timeline.jsonl").read_text().splitlines() if x.strip())
    ttft, gap = _row(md, "ttft").split(" | "), _row(md, "token_gap").split(" | ")
    assert ttft[1] == f"{len(TTFT_MS) * seconds:,}" and gap[1] == f"{len(TOKEN_GAP_MS) * seconds:,}", (ttft, gap)
    assert abs(float(ttft[3].removesuffix(" ms")) - 100.0) <= 1.0, ttft  # p50 within the histogram's 1 %
    assert abs(float(gap[3].removesuffix(" ms")) - 5.0) <= 0.05, gap
    screen = _first_screen(result.report_html)
    assert " ttft " in screen and " token_gap " in screen
    summary = json.loads(result.summary_json.read_text(encoding="utf-8"))
    assert summary["metrics"]["ttft"]["count"] == len(TTFT_MS) * seconds


def test_no_token_rows_without_samples(tmp_path: Path) -> None:
    result = build_report(_v1_run(tmp_path, {"api": "v1"}, tokens=False))
    md = result.summary_md.read_text(encoding="utf-8")
    assert _row(md, "ttft") == "" and _row(md, "token_gap") == ""
