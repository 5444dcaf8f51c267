"""Compare two runs' `summary.json` figures metric by metric (pure).

Each row has a direction (lower or higher is better). A row is a *regression* when the new value is
worse than the base by more than ``max_regression`` (relative, e.g. 0.10) **and** by more than the row's
absolute floor (1 ms for latencies by default, 0.1 percentage point for ratios), so noise on tiny values
never fails a gate. A base of 0 that becomes worse beyond the floor is an infinite regression.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadtest.timeline import STREAM_FAULTS

__all__ = ["Delta", "compare_summaries", "regressions"]

_LATENCY_STATS = ("p50_ms", "p95_ms", "p99_ms")
_RATIO_FLOOR = 0.001


@dataclass(frozen=True, slots=True)
class Delta:
    """One compared figure."""

    name: str
    unit: str
    base: float | None
    new: float | None
    lower_is_better: bool
    floor: float
    regression: bool = False

    @property
    def delta(self) -> float | None:
        return None if self.base is None or self.new is None else self.new - self.base

    @property
    def delta_ratio(self) -> float | None:
        """Relative change (0.1 = +10 %); ``inf`` from a zero base; ``None`` when either side is missing."""
        d = self.delta
        if d is None or self.base is None:
            return None
        if self.base == 0:
            return 0.0 if d == 0 else math.copysign(math.inf, d)
        return d / abs(self.base)

    def worse_by(self) -> float | None:
        """How much worse (relative, positive = worse) the new value is."""
        r = self.delta_ratio
        if r is None:
            return None
        return r if self.lower_is_better else -r


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _get(d: Mapping[str, Any], *path: str) -> Any:
    cur: Any = d
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _rows(base: Mapping[str, Any], new: Mapping[str, Any], min_delta_ms: float) -> list[Delta]:
    rows: list[Delta] = []
    bm, nm = base.get("metrics") or {}, new.get("metrics") or {}
    for metric in [m for m in bm if m in nm]:
        for stat in _LATENCY_STATS:
            rows.append(
                Delta(
                    f"{metric}.{stat.removesuffix('_ms')}",
                    "ms",
                    _num(_get(bm, metric, stat)),
                    _num(_get(nm, metric, stat)),
                    True,
                    min_delta_ms,
                )
            )
        rows.append(
            Delta(
                f"{metric}.failure_ratio",
                "",
                _failure_ratio(bm[metric]),
                _failure_ratio(nm[metric]),
                True,
                _RATIO_FLOOR,
            )
        )
    for key, label in (("actions_per_s", "throughput.actions_per_s"), ("events_per_s", "throughput.events_per_s")):
        rows.append(Delta(label, "/s", _rate(base, key), _rate(new, key), False, 0.0))
    rows.append(Delta("throttled.ratio", "", _throttle_ratio(base), _throttle_ratio(new), True, _RATIO_FLOOR))
    for key in STREAM_FAULTS:
        rows.append(Delta(f"{key}.per_1k_events", "", _per_1k(base, key), _per_1k(new, key), True, 0.0))
    for key, label in (
        ("max_conversations_within_slo", "capacity.max_conversations"),
        ("knee_conversations", "capacity.knee"),
    ):
        rows.append(
            Delta(label, "conv", _num(_get(base, "capacity", key)), _num(_get(new, "capacity", key)), False, 0.0)
        )
    rows.append(
        Delta(
            "throttle_onset.offered_rate",
            "/s",
            _num(_get(base, "throttle_onset", "offered_rate")),
            _num(_get(new, "throttle_onset", "offered_rate")),
            False,
            0.0,
        )
    )
    return rows


def _failure_ratio(m: Any) -> float | None:
    count, failures = _num(_get(m, "count")) or 0.0, _num(_get(m, "failures")) or 0.0
    return failures / (count + failures) if count + failures else None


def _rate(summary: Mapping[str, Any], key: str) -> float | None:
    explicit = _num(_get(summary, "run", "throughput", key))
    if explicit is not None:
        return explicit
    duration = _num(_get(summary, "run", "duration_s"))
    total = _num(_get(summary, "counters", key.removesuffix("_per_s")))
    return total / duration if duration and total is not None else None


def _throttle_ratio(summary: Mapping[str, Any]) -> float | None:
    actions = _num(_get(summary, "counters", "actions"))
    throttled = _get(summary, "counters", "throttled")
    if not actions or not isinstance(throttled, Mapping):
        return None
    return sum(v for v in throttled.values() if isinstance(v, int | float)) / actions


def _per_1k(summary: Mapping[str, Any], key: str) -> float | None:
    events = _num(_get(summary, "counters", "events"))
    value = _num(_get(summary, "counters", key))
    return 1000.0 * value / events if events and value is not None else None


def compare_summaries(
    base: Mapping[str, Any], new: Mapping[str, Any], max_regression: float, min_delta_ms: float = 1.0
) -> list[Delta]:
    """Rows for every figure present in either run, each marked as a regression or not."""
    out: list[Delta] = []
    for row in _rows(base, new, min_delta_ms):
        if row.base is None and row.new is None:
            continue
        worse = row.worse_by()
        delta = row.delta
        regression = worse is not None and delta is not None and worse > max_regression and abs(delta) > row.floor
        if row.name.startswith("throttle_onset.") and row.base is None and row.new is not None:
            regression = True  # throttling appeared where the base run saw none
        out.append(Delta(row.name, row.unit, row.base, row.new, row.lower_is_better, row.floor, regression))
    return out


def regressions(rows: list[Delta]) -> list[Delta]:
    return [r for r in rows if r.regression]
