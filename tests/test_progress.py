"""`loadtest bench`'s live progress line: tailing a growing timeline and summarising its last seconds."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from loadtest.histogram import Histogram
from loadtest.progress import ProgressLine, TimelineTail, format_line, summarize
from loadtest.timeline import Second, from_line


def _line(t: int, actions: int, events: int, turn_ms: list[float], throttled: int = 0) -> dict[str, Any]:
    h = Histogram()
    for v in turn_ms:
        h.record(v)
    return {
        "t": t,
        "users": 4,
        "counters": {"actions": actions, "events": events, "throttled": {"http_429": throttled} if throttled else {}},
        "metrics": {"turn": h.to_dict()} if turn_ms else {},
    }


def _second(t: int, actions: int, events: int, turn_ms: list[float], throttled: int = 0) -> Second:
    return from_line(_line(t, actions, events, turn_ms, throttled))


def test_tail_returns_complete_lines_once_and_waits_for_a_partial_one(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    tail = TimelineTail(path)
    assert tail.read_new() == []  # not written yet
    first, second = json.dumps(_line(0, 1, 2, [])), json.dumps(_line(1, 3, 4, []))
    path.write_text(first + "\n" + second[:10])
    assert [r.t for r in tail.read_new()] == [0]
    with path.open("a") as f:
        f.write(second[10:] + "\n")
    assert [r.t for r in tail.read_new()] == [1]
    assert tail.read_new() == []


def test_summary_rates_and_p95_over_the_window() -> None:
    rows = [_second(t, 2, 10, [100.0] * 19 + [1000.0], throttled=1) for t in range(5)]
    s = summarize(rows)
    assert s["actions_s"] == 2 and s["events_s"] == 10 and s["throttles"] == 5
    assert s["metric"] == "turn" and abs(s["p95_ms"] - 100.0) <= 1.0
    assert "turn p95 100 ms" in format_line(s, 30, 5)
    assert summarize([]) == {} and format_line({}, 30, 0) == "starting…"


def test_progress_without_a_terminal_prints_a_line_every_five_seconds() -> None:
    out = io.StringIO()
    progress = ProgressLine(total_s=12, stream=out)
    for t in range(12):
        progress.update([_second(t, 1, 1, [5.0], throttled=1)])
    progress.close()
    lines = out.getvalue().splitlines()
    assert [line.split("/")[0].strip() for line in lines] == ["0", "5", "10"]
    assert lines[-1].endswith("throttles 11")
