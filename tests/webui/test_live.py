"""The live report: the same summary.json as the finished run folder's, plots drawn in another process."""

from __future__ import annotations

import gevent

import json
import shutil
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadtest.harness.webui.live import LiveReport
from loadtest.harness.webui.render import answer
from loadtest.report import build_report
from loadtest.report.figures import FIGURES
from loadtest.timeline import Second as Slice
from loadtest.timeline import to_line as line_from_slice
from loadtest.timeline import window

START = 1_764_000_000


def _slice(t: int, users: int) -> Slice:
    s = Slice(START + t)
    for i in range(20):
        s.record("echo", 2.0 + i * 0.5 + t)
        s.record("turn", 40.0 + i + 3 * t)
    s.record("connect", 12.0)
    s.count("actions", 20)
    s.count("events", 100)
    s.count("bytes", 5000)
    s.count("turns", 20)
    if t == 3:
        s.count("throttled.http_429", 2)
        s.count("disconnects.server", 1)
    s.gauges.update(users=users, conversations=users, sockets=users, turns_in_flight=1)
    s.health = [{"worker": 0, "loop_lag_ms": 1.0, "cpu_percent": 20.0}]
    return s


class FakeRunLog:
    """A run folder as ``RunLog`` keeps it: ``run`` in memory, ``timeline.jsonl`` appended line by line."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.lines = 0
        self.run: dict[str, Any] = {
            "label": "live-test",
            "started_at": "2025-11-24T16:00:00.000Z",
            "started_ts": 0.0,
            "ended_at": None,
            "target": "http://127.0.0.1:9?session_api_key=hunter2",
            "profile": ["ChatUser"],
            "shape": None,
            "settings": {"slo": ["echo.p95<250ms", "gaps==0"], "session_api_key": "***"},
            "exit_code": None,
            "verdict": None,
            "slo": [],
            "steps": [{"index": 0, "start_t": 0, "end_t": None, "users": 4, "offered_rate": None}],
            "notes": [],
        }

    def get(self, key: str) -> object:
        return self.run.get(key)

    def snapshot(self) -> dict[str, Any]:
        return dict(json.loads(json.dumps(self.run)))

    def append(self, line: dict[str, Any]) -> None:
        with (self.folder / "timeline.jsonl").open("a") as fh:
            fh.write(json.dumps(line) + "\n")
        self.lines += 1


class FakeRuntime:
    """The attributes of ``RunWriter`` that the web UI reads."""

    def __init__(self, folder: Path) -> None:
        self.start_second = START
        self.history: deque[Slice] = deque(maxlen=100)
        self.total = Slice(0)
        self.steps: list[dict[str, Any]] = []
        self.runlog = FakeRunLog(folder)
        self.finished = False
        self.settings = None

    def step_at(self, t: int) -> int:
        return 0

    def write(self, s: Slice) -> None:
        self.runlog.append(line_from_slice(s, t=s.second - START, step=0, workers=1))
        self.history.append(s)
        self.total.merge(s)


@pytest.fixture
def live_for() -> Iterator[Any]:
    made: list[LiveReport] = []

    def make(rt: FakeRuntime, **kwargs: Any) -> LiveReport:
        made.append(LiveReport(rt, **kwargs))
        return made[-1]

    yield make
    for live in made:
        live.close()  # the renderer processes we started


def _as_folder(rt: FakeRuntime, folder: Path) -> None:
    """The finished run folder for the same data: run.json and timeline.jsonl."""
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps(rt.runlog.run))
    shutil.copyfile(rt.runlog.folder / "timeline.jsonl", folder / "timeline.jsonl")


@pytest.mark.slow
def test_live_summary_is_the_reports_summary(tmp_path: Path, live_for: Any) -> None:
    rt = FakeRuntime(tmp_path / "live")
    live = live_for(rt)
    assert live.summary() is not None  # a run without seconds yet still has a summary
    for t in range(6):
        rt.write(_slice(t, users=4))
    summary = live.summary()
    assert summary is not None
    _as_folder(rt, tmp_path / "folder")
    assert summary == build_report(tmp_path / "folder").summary
    assert summary["metrics"]["echo"]["count"] == 120 and summary["counters"]["throttled"] == {"http_429": 2}
    assert "hunter2" not in json.dumps(summary)
    assert [s["expr"] for s in summary["slo"]] == ["echo.p95<250ms", "gaps==0"]
    assert live.summary() is summary  # cached until a new second is written
    rt.write(_slice(6, users=4))
    assert live.summary()["metrics"]["echo"]["count"] == 140  # type: ignore[index]


def test_no_run_no_summary(tmp_path: Path, live_for: Any) -> None:
    rt = FakeRuntime(tmp_path)
    rt.runlog = None  # type: ignore[assignment]
    live = live_for(rt)
    assert live.summary() is None and live.plots() is None and live.report_html() is None


@pytest.mark.slow
def test_plots_are_drawn_in_another_process_and_cached(tmp_path: Path, live_for: Any) -> None:
    rt = FakeRuntime(tmp_path)
    for t in range(8):
        rt.write(_slice(t, users=2 + t // 4))
    live = live_for(rt, refresh_s=0.0)
    ticks: list[int] = []

    def ticker() -> None:
        for i in range(100_000):  # bounded; killed below
            ticks.append(i)
            gevent.sleep(0.01)

    g = gevent.spawn(ticker)
    try:
        gevent.sleep(0.05)
        before = len(ticks)
        first = live.plots(wait_first=True)
        during = len(ticks) - before
    finally:
        g.kill()
    assert first is not None
    assert list(first.images) == list(FIGURES)
    assert all(png.startswith(b"\x89PNG") for _, png in first.images.values())
    assert first.seconds == 8 and first.generation == 1
    assert during >= 3, "the gevent loop stood still while the plots were drawn"
    assert live.plots() is first  # nothing new: no redraw
    rt.write(_slice(8, users=4))
    assert live.plots() is first and live.rendering  # the stale drawing is served while a new one is made
    for _ in range(600):  # at most 60 s
        if not live.rendering:
            break
        gevent.sleep(0.1)
    second = live.plots()
    assert second is not None and second.generation == 2 and second.seconds == 9
    pid = live.worker.pid
    assert pid is not None
    live.close()
    assert live.worker.pid is None


def test_report_html_only_for_the_ended_run(tmp_path: Path, live_for: Any) -> None:
    rt = FakeRuntime(tmp_path)
    live = live_for(rt)
    (tmp_path / "report.html").write_text("<html></html>")
    assert live.report_html() is None  # still running
    rt.finished = True
    rt.runlog.run["ended_at"] = "2025-11-24T16:01:00.000Z"
    assert live.report_html() == tmp_path / "report.html"
    rt.runlog.run["started_ts"] = (tmp_path / "report.html").stat().st_mtime + 60  # a previous run's file
    assert live.report_html() is None


def test_renderer_reads_only_complete_lines_of_this_run(tmp_path: Path) -> None:
    earlier = line_from_slice(_slice(0, users=9), t=0, step=0, workers=1)
    earlier["ts"] = START - 100.0  # a previous run in the same --report-dir
    (tmp_path / "timeline.jsonl").write_text(json.dumps(earlier) + "\n")
    rt = FakeRuntime(tmp_path)
    rt.runlog.run["started_ts"] = START + 0.4
    for t in range(3):
        rt.write(_slice(t, users=1))
    with (tmp_path / "timeline.jsonl").open("a") as fh:
        fh.write('{"t": 3, "counters": {"act')  # the harness is writing the next line
    reply = answer({"folder": str(tmp_path), "lines": rt.runlog.lines, "run": rt.runlog.run, "plots": False})
    assert reply["seconds"] == 3 and reply["images"] == {}
    assert reply["summary"]["metrics"]["echo"]["count"] == window(rt.history).hists["echo"].count
    assert reply["summary"]["run"]["timeline_dropped_lines"] == 0
    assert any(n.startswith("live:") for n in reply["notes"])
    assert answer({"folder": str(tmp_path / "nothing"), "lines": 5, "run": {}})["seconds"] == 0
