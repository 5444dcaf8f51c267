"""The one per-second model: the names, the :class:`Second`, the ``timeline.jsonl`` line, derived figures.

A :class:`Second` holds one wall-clock second of measurements: counters, mergeable latency
histograms, gauges sampled when the second closed, and generator health. The harness records into
one per process, merges the workers' seconds exactly (counts add, histograms add bucket-wise,
gauges add, health keeps every worker), writes each merged second as one ``timeline.jsonl`` line,
and the live gate, the progress line, the web UI and the report read those lines back with
:func:`from_line` / :func:`parse_lines`. Counter groups use dotted keys in memory
(``throttled.http_429``) and nested maps on disk, as ``docs/contracts.md`` specifies; readers
treat a missing key as 0 and ignore unknown keys.

Adding a counter is one line in the name lists below plus its producer; the SLO grammar and its
one measure (:mod:`loadtest.slo`), the report and the web UI take their names from here.

Pure: no Locust, no clock, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from loadtest.histogram import Histogram

__all__ = [
    "COUNTER_GROUPS",
    "DERIVED_COUNTERS",
    "EXTRA_COUNTERS",
    "GAUGES",
    "METRICS",
    "STREAM_FAULTS",
    "TOP_COUNTERS",
    "Outage",
    "Second",
    "error_count",
    "from_line",
    "operations",
    "outages",
    "parse_lines",
    "to_line",
    "window",
]

# -- the names (one list each; the grammar, report and web UI take theirs from here) ----------------

#: Latency metrics of DESIGN §3 (each also has a coordinated-omission twin ``<name>_co``).
METRICS = (
    *("connect", "echo", "first_event", "turn", "event_gap", "reconnect", "resync", "rest_create", "ready"),
    "ttft",  # V1: send → the first streamed token (StreamingDeltaEvent), when the LLM streams
    "token_gap",  # V1: between consecutive streamed tokens of one reply
)
#: Event-stream faults (counted per conversation by the integrity tracker).
STREAM_FAULTS = ("gaps", "duplicates", "out_of_order")
#: Top-level counters always written, even when zero.
TOP_COUNTERS = ("actions", "events", "bytes", *STREAM_FAULTS, "turns")
#: Top-level counters written only when non-zero.
EXTRA_COUNTERS = (
    "connects",
    "reconnects",
    "rest_calls",
    "dropped_actions",
    "unaudited",
    "history_resets",
    "slow_generator",  # slow REST answers the generator's own loop lag explains (not throttling)
    "deltas",  # V1: streamed token chunks received (never stored or replayed: not events, never gaps)
    "overlap",  # V1: the expected copy of the resume boundary event (inclusive `since`): not a duplicate
    "interleaved",  # V1: live events delivered amid a replay
    "stale",  # V1: events older than an unaudited floor (not judged)
    "missing_snapshot",  # V1: a connection whose first snapshot never came
    "filled",  # V1: stored events REST delivered that the socket did not (frontend/SDK resume)
)
#: Counter groups, written as nested maps without zero entries.
COUNTER_GROUPS = ("throttled", "disconnects", "errors", "failures")
#: Counters computed from others (SLO subjects, never written): see :func:`operations`, :func:`outage_seconds`.
DERIVED_COUNTERS = ("operations", "outage_s")
#: Gauges written in the line's ``gauges`` map.
GAUGES = ("conversations", "sockets", "turns_in_flight", "reconnecting")
#: Throttle signals that stand for a failed attempt (each excuses one failure in :func:`error_count`).
EXCUSING_SIGNALS_EXCLUDED = frozenset({"http_delayed"})
#: Failures of a unit of work that count as errors (when no throttle signal explains them).
ERROR_FAILURES = ("turn", "connect", "rest_create", "reconnect")


_NAMED = frozenset((*TOP_COUNTERS, "connects", "rest_calls"))


class _Count:
    """A counter read as an attribute of :class:`Second` (``s.actions``); absent is 0."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def __get__(self, obj: Second, owner: type | None = None) -> int:
        return obj.counters.get(self.key, 0)


class _Group:
    """A counter group read as an attribute of :class:`Second` (``s.throttled``): its non-zero entries."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def __get__(self, obj: Second, owner: type | None = None) -> dict[str, int]:
        return obj.group(self.key)


class Second:
    """One second of measurements from one process, or the merge of several.

    ``second`` is the wall-clock second (``int(time.time())``); ``t``/``step`` are set from a line.
    ``users`` and ``offered_rate`` live in :attr:`gauges` so that merging adds them.
    Keyword arguments named after counters (``actions=3``, ``throttled={"http_429": 2}``) fill
    :attr:`counters`; ``health`` takes one mapping (a line's) or one per process.
    """

    __slots__ = ("counters", "gauges", "health", "hists", "second", "step", "t")

    def __init__(
        self,
        second: int = 0,
        *,
        t: int = 0,
        ts: float | None = None,
        step: int | None = None,
        users: float | None = None,
        offered_rate: float | None = None,
        counters: dict[str, int] | None = None,
        metrics: dict[str, Histogram] | None = None,
        gauges: Mapping[str, float] | None = None,
        health: Mapping[str, float] | Iterable[Mapping[str, float]] | None = None,
        **named: int | Mapping[str, int],
    ) -> None:
        self.second = int(ts) if ts is not None else second
        self.t = t
        self.step = step
        self.counters: dict[str, int] = counters if counters is not None else {}
        self.hists: dict[str, Histogram] = metrics if metrics is not None else {}
        self.gauges: dict[str, float] = dict(gauges) if gauges else {}
        if users is not None:
            self.gauges["users"] = float(users)
        if offered_rate is not None:
            self.gauges["offered_rate"] = float(offered_rate)
        if health is None:
            self.health: list[dict[str, float]] = []
        elif isinstance(health, Mapping):
            self.health = [dict(health)] if health else []
        else:
            self.health = [dict(h) for h in health]
        for key, value in named.items():
            if isinstance(value, Mapping):
                for sub, n in value.items():
                    if n:
                        self.counters[f"{key}.{sub}"] = int(n)
            elif value:
                self.counters[key] = int(value)

    # -- recording (the hot path: plain dict updates) ---------------------------------------------

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def record(self, metric: str, value_ms: float) -> None:
        h = self.hists.get(metric)
        if h is None:
            h = self.hists[metric] = Histogram()
        h.record(value_ms)

    def merge(self, other: Second) -> None:
        """Add ``other`` (any second) into this one; exact for counters and histograms."""
        counters = self.counters
        for key, n in other.counters.items():
            counters[key] = counters.get(key, 0) + n
        for metric, h in other.hists.items():
            mine = self.hists.get(metric)
            if mine is None:
                mine = self.hists[metric] = Histogram()
            mine.merge(h)
        for key, value in other.gauges.items():
            self.gauges[key] = self.gauges.get(key, 0) + value
        self.health.extend(other.health)

    # -- reading ------------------------------------------------------------------------------------

    def counter(self, key: str) -> int:
        """A counter, or the sum of a group (``'throttled'`` sums ``throttled.*``); derived names computed."""
        if key in self.counters:
            return self.counters[key]
        if key == "connects":
            return self.connects
        if key == "operations":
            return self.operations
        prefix = key + "."
        return sum(n for k, n in self.counters.items() if k.startswith(prefix))

    def group(self, name: str) -> dict[str, int]:
        prefix = name + "."
        return {k[len(prefix) :]: n for k, n in self.counters.items() if k.startswith(prefix) and n}

    def gauge(self, name: str) -> float:
        return self.gauges.get(name, 0.0)

    def health_of(self, key: str) -> float:
        """The worst (largest) value of a health figure over the contributing processes."""
        return max((h.get(key, 0.0) for h in self.health), default=0.0)

    @property
    def metrics(self) -> dict[str, Histogram]:
        """The latency histograms (the line's ``metrics`` map)."""
        return self.hists

    @property
    def ts(self) -> float:
        return float(self.second)

    @property
    def users(self) -> int:
        return int(self.gauges.get("users", 0))

    @property
    def offered_rate(self) -> float:
        return self.gauges.get("offered_rate", 0.0)

    @property
    def connects(self) -> int:
        """Connect attempts: the ``connects`` counter, else connect samples + connect failures (older runs)."""
        n = self.counters.get("connects")
        if n is not None:
            return n
        h = self.hists.get("connect")
        return (h.count if h else 0) + self.counters.get("failures.connect", 0)

    @property
    def operations(self) -> int:
        """Actions + connect attempts + REST calls: the denominator of every ``*.ratio``."""
        return self.counters.get("actions", 0) + self.connects + self.counters.get("rest_calls", 0)

    @property
    def extra(self) -> dict[str, int]:
        """Top-level counters other than :data:`TOP_COUNTERS` and the operations' parts (``reconnects``, ...)."""
        return {k: n for k, n in self.counters.items() if "." not in k and k not in _NAMED and n}

    # The report's named views (a counter absent is 0, a group is its non-zero entries).
    actions = _Count()
    events = _Count()
    bytes = _Count()
    gaps = _Count()
    duplicates = _Count()
    out_of_order = _Count()
    turns = _Count()
    rest_calls = _Count()
    throttled = _Group()
    disconnects = _Group()
    errors = _Group()
    failures = _Group()

    # -- the wire between worker and master ---------------------------------------------------------

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
    def from_wire(cls, data: Mapping[str, Any]) -> Second:
        return cls(
            int(data["second"]),
            counters={str(k): int(v) for k, v in data.get("counters", {}).items()},
            metrics={str(m): Histogram.from_dict(h) for m, h in data.get("hists", {}).items()},
            gauges={str(k): float(v) for k, v in data.get("gauges", {}).items()},
            health=[{str(k): float(v) for k, v in h.items()} for h in data.get("health", [])],
        )


def window(seconds: Iterable[Second], second: int = 0) -> Second:
    """All ``seconds`` merged into one (for SLOs over a window or the whole run)."""
    out = Second(second)
    for s in seconds:
        out.merge(s)
    return out


# -- the line ------------------------------------------------------------------------------------------


def _out(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


def to_line(
    s: Second,
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
            ({k: _out(v) for k, v in h.items()} for h in s.health), key=lambda h: h.get("worker", 0)
        )
    return {
        "t": t,
        "ts": float(s.second),
        "users": int(s.gauges.get("users", 0) if users is None else users),
        "step": step,
        "offered_rate": round(float(s.gauges.get("offered_rate", 0.0) if offered_rate is None else offered_rate), 3),
        "gauges": {g: _out(s.gauges.get(g, 0)) for g in GAUGES},
        "counters": counters,
        "metrics": {m: h.to_dict() for m, h in sorted(s.hists.items()) if h.count},
        "health": health,
    }


def _num(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return 0.0


def _histograms(value: Any) -> dict[str, Histogram]:
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, Histogram] = {}
    for name, data in value.items():
        if not isinstance(data, Mapping):
            continue
        try:
            h = Histogram.from_dict(data)
        except (TypeError, ValueError, KeyError):
            continue
        if h.count:
            out[str(name)] = h
    return out


def from_line(obj: Mapping[str, Any]) -> Second:
    """One timeline object → :class:`Second`; ``ValueError`` when ``t`` is missing.

    Missing keys read as 0, unknown keys are ignored, a value of the wrong type reads as 0.
    """
    t = obj.get("t")
    if not isinstance(t, int | float) or isinstance(t, bool):
        raise ValueError("timeline line has no numeric 't'")
    raw = obj.get("counters")
    counters: dict[str, int] = {}
    for key, value in raw.items() if isinstance(raw, Mapping) else ():
        if isinstance(value, Mapping):
            for sub, n in value.items():
                if int(_num(n)):
                    counters[f"{key}.{sub}"] = int(_num(n))
        elif isinstance(value, int | float):
            counters[str(key)] = int(_num(value))
    gauges_raw = obj.get("gauges")
    gauges = {str(k): _num(v) for k, v in gauges_raw.items()} if isinstance(gauges_raw, Mapping) else {}
    health_raw = obj.get("health")
    health = (
        {str(k): _num(v) for k, v in health_raw.items() if isinstance(v, int | float)}
        if isinstance(health_raw, Mapping)
        else {}
    )
    step = obj.get("step")
    return Second(
        ts=_num(obj.get("ts")),
        t=int(t),
        step=int(step) if isinstance(step, int | float) and not isinstance(step, bool) else None,
        users=_num(obj.get("users")),
        offered_rate=_num(obj.get("offered_rate")),
        counters=counters,
        metrics=_histograms(obj.get("metrics")),
        gauges=gauges,
        health=health,
    )


def parse_line(line: str) -> Second | None:
    """One text line → :class:`Second`; ``None`` for a line that is not one (blank, truncated, garbled)."""
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
        if not isinstance(obj, dict):
            return None
        return from_line(obj)
    except ValueError:
        return None


def parse_lines(lines: Iterable[str]) -> tuple[list[Second], int]:
    """Parse timeline lines; returns the seconds (sorted by ``t``) and how many lines were dropped.

    A line that is not a JSON object with a numeric ``t`` (typically the half-written last line of a
    run that crashed) is dropped and counted; blank lines are ignored.
    """
    seconds: list[Second] = []
    dropped = 0
    for line in lines:
        if not line.strip():
            continue
        s = parse_line(line)
        if s is None:
            dropped += 1
        else:
            seconds.append(s)
    seconds.sort(key=lambda s: s.t)
    return seconds, dropped


# -- derived figures -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outage:
    """Consecutive run seconds with users running and no socket connected, after the first connect."""

    start_t: int
    end_t: int
    failed_connects: int

    @property
    def duration_s(self) -> int:
        return self.end_t - self.start_t + 1


def _down(s: Second, seen_up: bool) -> bool:
    if not seen_up or s.users <= 0 or s.gauge("sockets") > 0:
        return False
    return (
        s.gauge("reconnecting") > 0
        or s.counters.get("failures.connect", 0) > 0
        or s.counters.get("failures.reconnect", 0) > 0
    )


def outages(seconds: Iterable[Second]) -> list[Outage]:
    """Every outage: seconds in which users ran, no socket was connected (after one had been) and
    conversations were reconnecting or connects failed."""
    out: list[Outage] = []
    seen_up = False
    start: int | None = None
    failed = 0
    last_t = 0
    for s in seconds:
        t = s.t
        if _down(s, seen_up):
            if start is None:
                start, failed = t, 0
            failed += s.counters.get("failures.connect", 0)
            last_t = t
        elif start is not None:  # reconnects report their failed attempts when they end: this second
            out.append(Outage(start, last_t, failed + s.counters.get("failures.connect", 0)))
            start = None
        if s.gauge("sockets") > 0:
            seen_up = True
    if start is not None:
        out.append(Outage(start, last_t, failed))
    return out


def operations(data: Second) -> int:
    """Denominator of ``*.ratio``: actions + connect attempts + REST calls."""
    return data.operations


def error_count(data: Second) -> int:
    """Errors: the ``errors`` group (server error signals, protocol errors, failed REST calls, missing
    echoes, resync timeouts) plus failed turns, connects, conversation creations and reconnects that no
    throttle signal explains (each throttle signal but ``http_delayed`` excuses one such failure)."""
    failed = sum(data.counters.get(f"failures.{m}", 0) for m in ERROR_FAILURES)
    excused = sum(n for k, n in data.group("throttled").items() if k not in EXCUSING_SIGNALS_EXCLUDED)
    return data.counter("errors") + max(0, failed - excused)
