"""Per-second slices of what the load generator measured, their merge, and the `timeline.jsonl` line.

A :class:`Slice` holds one wall-clock second (``second`` = ``int(time.time())``) of one process:
counters, mergeable latency histograms, gauges sampled when the second closed, and generator
health. Slices of the same second from several workers merge exactly (counts add, histograms add
bucket-wise, gauges add, health keeps the worst worker), so the master's merged line counts every
action and event once. Counter groups use dotted keys in memory (``throttled.http_429``) and nested
maps on disk, as ``docs/contracts.md`` specifies.

Pure: no Locust, no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loadtest.histogram import Histogram

__all__ = [
    "COUNTER_GROUPS",
    "GAUGES",
    "TOP_COUNTERS",
    "Slice",
    "line_from_slice",
    "slice_from_line",
    "window",
]

# Always written, even when zero (readers treat missing keys as 0 anyway).
TOP_COUNTERS = ("actions", "events", "bytes", "gaps", "duplicates", "out_of_order", "turns")
# Written as nested maps without zero entries.
COUNTER_GROUPS = ("throttled", "disconnects", "errors", "failures")
GAUGES = ("conversations", "sockets", "turns_in_flight", "reconnecting")
# Gauges kept for the line's top-level fields rather than the "gauges" map.
_TOP_GAUGES = ("users", "offered_rate")


@dataclass
class Slice:
    """One second of measurements from one process, or the merge of several."""

    second: int
    counters: dict[str, int] = field(default_factory=dict)
    hists: dict[str, Histogram] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)
    health: list[dict[str, float]] = field(default_factory=list)
    """One entry per contributing process: ``{"worker": i, "loop_lag_ms": x, "cpu_percent": y}``."""

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def record(self, metric: str, value_ms: float) -> None:
        h = self.hists.get(metric)
        if h is None:
            h = self.hists[metric] = Histogram()
        h.record(value_ms)

    def merge(self, other: Slice) -> None:
        """Add ``other`` (any second) into this slice; exact for counters and histograms."""
        for key, n in other.counters.items():
            self.counters[key] = self.counters.get(key, 0) + n
        for metric, h in other.hists.items():
            mine = self.hists.get(metric)
            if mine is None:
                mine = self.hists[metric] = Histogram()
            mine.merge(h)
        for key, value in other.gauges.items():
            self.gauges[key] = self.gauges.get(key, 0) + value
        self.health.extend(other.health)

    def counter(self, key: str) -> int:
        """A counter, or the sum of a group (``'throttled'`` sums ``throttled.*``)."""
        if key in self.counters:
            return self.counters[key]
        prefix = key + "."
        return sum(n for k, n in self.counters.items() if k.startswith(prefix))

    def group(self, name: str) -> dict[str, int]:
        prefix = name + "."
        return {k[len(prefix) :]: n for k, n in self.counters.items() if k.startswith(prefix) and n}

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-safe dict for ``report_to_master``."""
        return {
            "second": self.second,
            "counters": dict(self.counters),
            "hists": {m: h.to_dict() for m, h in self.hists.items()},
            "gauges": dict(self.gauges),
            "health": [dict(h) for h in self.health],
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Slice:
        return cls(
            second=int(data["second"]),
            counters={str(k): int(v) for k, v in data.get("counters", {}).items()},
            hists={str(m): Histogram.from_dict(h) for m, h in data.get("hists", {}).items()},
            gauges={str(k): float(v) for k, v in data.get("gauges", {}).items()},
            health=[{str(k): float(v) for k, v in h.items()} for h in data.get("health", [])],
        )


def window(slices: Iterable[Slice], second: int = 0) -> Slice:
    """All ``slices`` merged into one (for SLOs over a window or the whole run)."""
    out = Slice(second)
    for s in slices:
        out.merge(s)
    return out


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


def line_from_slice(
    s: Slice,
    *,
    t: int,
    step: int,
    workers: int,
    lost_workers: int = 0,
    users: int | None = None,
    offered_rate: float | None = None,
) -> dict[str, Any]:
    """The ``timeline.jsonl`` object for one merged second (``docs/contracts.md``)."""
    counters: dict[str, Any] = {k: s.counters.get(k, 0) for k in TOP_COUNTERS}
    for key, n in sorted(s.counters.items()):
        if "." in key or key in counters or not n:
            continue
        counters[key] = n  # extra top-level counters (connects, reconnects, rest_calls, ...)
    for group in COUNTER_GROUPS:
        counters[group] = dict(sorted(s.group(group).items()))
    lags = [h.get("loop_lag_ms", 0.0) for h in s.health]
    cpus = [h.get("cpu_percent", 0.0) for h in s.health]
    health: dict[str, Any] = {
        "loop_lag_ms": round(max(lags), 2) if lags else 0.0,
        "cpu_percent": round(max(cpus), 1) if cpus else 0.0,
        "workers": workers,
        "lost_workers": lost_workers,
    }
    if len(s.health) > 1:
        health["by_worker"] = sorted(
            ({k: _num(v) for k, v in h.items()} for h in s.health), key=lambda h: h.get("worker", 0)
        )
    return {
        "t": t,
        "ts": float(s.second),
        "users": int(s.gauges.get("users", 0) if users is None else users),
        "step": step,
        "offered_rate": round(float(s.gauges.get("offered_rate", 0.0) if offered_rate is None else offered_rate), 3),
        "gauges": {g: _num(s.gauges.get(g, 0)) for g in GAUGES},
        "counters": counters,
        "metrics": {m: h.to_dict() for m, h in sorted(s.hists.items()) if h.count},
        "health": health,
    }


def slice_from_line(line: Mapping[str, Any]) -> Slice:
    """Read a ``timeline.jsonl`` object back into a slice (tests and live SLO windows)."""
    s = Slice(int(line.get("ts", 0)))
    for key, value in line.get("counters", {}).items():
        if isinstance(value, Mapping):
            for sub, n in value.items():
                s.counters[f"{key}.{sub}"] = int(n)
        else:
            s.counters[key] = int(value)
    s.hists = {m: Histogram.from_dict(h) for m, h in line.get("metrics", {}).items()}
    s.gauges = {k: float(v) for k, v in line.get("gauges", {}).items()}
    s.gauges["users"] = float(line.get("users", 0))
    s.gauges["offered_rate"] = float(line.get("offered_rate", 0.0))
    health = line.get("health", {})
    s.health = [
        {"loop_lag_ms": float(health.get("loop_lag_ms", 0.0)), "cpu_percent": float(health.get("cpu_percent", 0.0))}
    ]
    return s


class Assembler:
    """Collects slices from every process and releases each second once, in order, when complete.

    A second is complete when every process that has reported says it has closed that second
    (``closed_through``), or when it is ``max_lag`` seconds old (a slow or lost worker). Data that
    arrives for a second already released is merged into the next unreleased second and counted in
    :attr:`late`, so nothing is dropped or counted twice.
    """

    def __init__(self, start_second: int) -> None:
        self.start = start_second
        self.next = start_second
        self.pending: dict[int, Slice] = {}
        self.closed: dict[str, int] = {}
        self.finished: set[str] = set()
        self.late = 0
        self.last_seen = start_second - 1

    def add(self, source: str, slices: Iterable[Slice], closed_through: int, *, final: bool = False) -> None:
        for s in slices:
            second = max(s.second, self.start)
            if second < self.next:
                self.late += 1
                second = self.next
            target = self.pending.get(second)
            if target is None:
                target = self.pending[second] = Slice(second)
            target.merge(s)
            self.last_seen = max(self.last_seen, second)
        self.closed[source] = max(self.closed.get(source, closed_through), closed_through)
        if final:
            self.finished.add(source)
        else:
            self.finished.discard(source)

    def drop_source(self, source: str) -> None:
        """Stop waiting for ``source`` (a worker that quit or was lost)."""
        self.finished.add(source)

    def _complete_through(self) -> int | None:
        waiting = [c for src, c in self.closed.items() if src not in self.finished]
        if waiting:
            return min(waiting)
        return self.last_seen if self.closed else None

    def ready(self, now_second: int, max_lag: int) -> list[Slice]:
        """Seconds that can be written now, oldest first, each exactly once (empty seconds included)."""
        limit = now_second - max_lag
        complete = self._complete_through()
        if complete is not None:
            limit = max(limit, complete)
        limit = min(limit, now_second - 1)
        return self._release(limit)

    def flush(self, through: int | None = None) -> list[Slice]:
        """Every remaining second up to ``through`` (default: the last second seen)."""
        return self._release(self.last_seen if through is None else max(through, self.last_seen))

    def _release(self, limit: int) -> list[Slice]:
        out: list[Slice] = []
        while self.next <= limit:
            out.append(self.pending.pop(self.next) if self.next in self.pending else Slice(self.next))
            self.next += 1
        return out
