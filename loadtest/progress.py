"""The live progress line of `loadtest bench`, read from the run's `timeline.jsonl` as it grows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from loadtest.histogram import Histogram
from loadtest.timeline import Second, parse_line

# The latency metric shown, in order of preference: the first one with samples in the last seconds.
SHOWN_METRICS = ("turn", "echo", "connect")
WINDOW_S = 5


class TimelineTail:
    """Reads the complete lines appended to a timeline file since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = ""

    def read_new(self) -> list[Second]:
        try:
            with self.path.open("r", encoding="utf-8") as f:
                f.seek(self._offset)
                chunk = f.read()
                self._offset = f.tell()
        except FileNotFoundError:
            return []
        text = self._partial + chunk
        lines = text.split("\n")
        self._partial = lines.pop()  # an incomplete last line waits for its end
        return [s for s in map(parse_line, lines) if s is not None]


def summarize(window: Iterable[Second]) -> dict[str, Any]:
    """Rates and p95 over a window of timeline seconds (pure)."""
    rows = list(window)
    if not rows:
        return {}
    seconds = max(1, len(rows))
    actions = sum(r.actions for r in rows)
    events = sum(r.events for r in rows)
    throttles = sum(r.counter("throttled") for r in rows)
    metric, p95 = None, None
    for name in SHOWN_METRICS:
        hist = Histogram.merged(r.hists[name] for r in rows if name in r.hists)
        if hist.count:
            metric, p95 = name, hist.percentile(95)
            break
    last = rows[-1]
    return {
        "t": last.t,
        "users": last.users,
        "actions_s": actions / seconds,
        "events_s": events / seconds,
        "metric": metric,
        "p95_ms": p95,
        "throttles": throttles,
    }


def format_line(s: dict[str, Any], total_s: float, throttles_total: int) -> str:
    if not s:
        return "starting…"
    p95 = f"{s['metric']} p95 {s['p95_ms']:.0f} ms" if s.get("p95_ms") is not None else "p95 –"
    return (
        f"{s['t']:>4.0f}/{total_s:.0f} s  users {s['users']:>5}  actions/s {s['actions_s']:>7.1f}  "
        f"events/s {s['events_s']:>8.1f}  {p95}  throttles {throttles_total}"
    )


class ProgressLine:
    """Prints the progress: rewritten in place on a terminal, one line every 5 s otherwise."""

    def __init__(self, total_s: float, stream: TextIO, enabled: bool = True) -> None:
        self.total_s = total_s
        self.stream = stream
        self.enabled = enabled
        self.rows: list[Second] = []
        self.throttles = 0
        self._tty = stream.isatty()
        self._last_printed_t = -WINDOW_S
        self._width = 0

    def update(self, new_rows: list[Second]) -> None:
        if not new_rows:
            return
        for r in new_rows:
            self.throttles += r.counter("throttled")
        self.rows = (self.rows + new_rows)[-WINDOW_S:]
        if not self.enabled:
            return
        line = format_line(summarize(self.rows), self.total_s, self.throttles)
        t = self.rows[-1].t
        if self._tty:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            self.stream.flush()
        elif t - self._last_printed_t >= WINDOW_S:
            self._last_printed_t = t
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
