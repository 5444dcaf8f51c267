"""Parse `timeline.jsonl` lines into plain, typed records (pure: no file I/O).

The format is pinned in ``docs/contracts.md``: one JSON object per second of the run. Readers treat
missing keys as 0 and ignore unknown keys, so every field here has a zero default, and a value of the
wrong type is read as 0 rather than failing the whole report.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loadtest.histogram import Histogram

__all__ = ["Second", "parse_lines", "parse_second"]

_KNOWN = frozenset(
    {"actions", "events", "bytes", "gaps", "duplicates", "out_of_order", "turns", "connects", "rest_calls"}
    | {"throttled", "disconnects", "errors", "failures"}
)


@dataclass(frozen=True, slots=True)
class Second:
    """One second of a run, as the master recorded it."""

    t: int
    ts: float = 0.0
    users: int = 0
    step: int | None = None
    offered_rate: float = 0.0
    gauges: dict[str, float] = field(default_factory=dict)
    actions: int = 0
    events: int = 0
    bytes: int = 0
    gaps: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    turns: int = 0
    connects: int = 0  # connect attempts (the "connects" counter, else connect samples + failures)
    rest_calls: int = 0
    extra: dict[str, int] = field(default_factory=dict)  # other top-level counters (reconnects, ...)
    throttled: dict[str, int] = field(default_factory=dict)
    disconnects: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Histogram] = field(default_factory=dict)
    health: dict[str, float] = field(default_factory=dict)

    def gauge(self, name: str) -> float:
        return self.gauges.get(name, 0.0)

    @property
    def operations(self) -> int:
        """Actions + connect attempts + REST calls (the denominator of throttle and ``*.ratio`` shares)."""
        return self.actions + self.connects + self.rest_calls


def _num(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return 0.0


def _int(value: Any) -> int:
    return int(_num(value))


def _int_map(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): _int(v) for k, v in value.items() if _int(v)}


def _float_map(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): _num(v) for k, v in value.items()}


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


def parse_second(obj: Mapping[str, Any]) -> Second:
    """One timeline object → :class:`Second`; raises ``ValueError`` when ``t`` is missing."""
    if "t" not in obj or not isinstance(obj["t"], int | float) or isinstance(obj["t"], bool):
        raise ValueError("timeline line has no numeric 't'")
    counters = obj.get("counters")
    c: Mapping[str, Any] = counters if isinstance(counters, Mapping) else {}
    step = obj.get("step")
    metrics = _histograms(obj.get("metrics"))
    failures = _int_map(c.get("failures"))
    connect_samples = metrics["connect"].count if "connect" in metrics else 0
    return Second(
        t=int(obj["t"]),
        ts=_num(obj.get("ts")),
        users=_int(obj.get("users")),
        step=int(step) if isinstance(step, int | float) and not isinstance(step, bool) else None,
        offered_rate=_num(obj.get("offered_rate")),
        gauges=_float_map(obj.get("gauges")),
        actions=_int(c.get("actions")),
        events=_int(c.get("events")),
        bytes=_int(c.get("bytes")),
        gaps=_int(c.get("gaps")),
        duplicates=_int(c.get("duplicates")),
        out_of_order=_int(c.get("out_of_order")),
        turns=_int(c.get("turns")),
        connects=_int(c["connects"]) if "connects" in c else connect_samples + failures.get("connect", 0),
        rest_calls=_int(c.get("rest_calls")),
        extra={str(k): _int(v) for k, v in c.items() if k not in _KNOWN and isinstance(v, int | float)},
        throttled=_int_map(c.get("throttled")),
        disconnects=_int_map(c.get("disconnects")),
        errors=_int_map(c.get("errors")),
        failures=failures,
        metrics=metrics,
        health=_float_map(obj.get("health")),
    )


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
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            seconds.append(parse_second(obj))
        except ValueError:
            dropped += 1
    seconds.sort(key=lambda s: s.t)
    return seconds, dropped
