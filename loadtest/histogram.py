"""A mergeable, log-bucketed latency histogram (≤ 1 % relative error).

Values are milliseconds. Bucket ``i`` holds values in ``(GAMMA**(i-1), GAMMA**i]`` and reports the
value ``2 * GAMMA**i / (GAMMA + 1)``, whose distance to any value of the bucket is at most
``(GAMMA - 1) / (GAMMA + 1)`` relative (0.99 % for ``GAMMA = 1.02``). Values at or below
``MIN_MS`` share the lowest bucket, values above ``MAX_MS`` the highest one, so a histogram never
holds more than ~900 buckets whatever it is fed. Histograms merge by adding bucket counts, which is
exact: merging per-second histograms of several workers gives the histogram of all samples.

The JSON form (``to_dict``/``from_dict``) is the one written to ``timeline.jsonl``::

    {"n": 12, "sum": 1234.5, "min": 3.2, "max": 410.0, "b": {"57": 3, "310": 9}}

Pure: no I/O, no clock, no Locust.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["GAMMA", "MAX_MS", "MIN_MS", "Histogram"]

GAMMA = 1.02
MIN_MS = 0.1
MAX_MS = 3_600_000.0
_LOG_GAMMA = math.log(GAMMA)
_MIN_INDEX = math.ceil(math.log(MIN_MS) / _LOG_GAMMA)
_MAX_INDEX = math.ceil(math.log(MAX_MS) / _LOG_GAMMA)


def bucket_index(value_ms: float) -> int:
    """Index of the bucket that holds ``value_ms`` (clamped to the histogram's range)."""
    if value_ms <= MIN_MS:
        return _MIN_INDEX
    if value_ms >= MAX_MS:
        return _MAX_INDEX
    return math.ceil(math.log(value_ms) / _LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The value a bucket reports: the point of least relative error within it."""
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


class Histogram:
    """Counts of latencies in log buckets, with exact count, sum, min and max."""

    __slots__ = ("buckets", "count", "max", "min", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def record(self, value_ms: float, count: int = 1) -> None:
        """Add ``count`` samples of ``value_ms`` (negative values are recorded as 0)."""
        if value_ms < 0 or math.isnan(value_ms):
            value_ms = 0.0
        index = bucket_index(value_ms)
        self.buckets[index] = self.buckets.get(index, 0) + count
        self.count += count
        self.total += value_ms * count
        if value_ms < self.min:
            self.min = value_ms
        if value_ms > self.max:
            self.max = value_ms

    def merge(self, other: Histogram) -> None:
        """Add every sample of ``other`` to this histogram."""
        if not other.count:
            return
        buckets = self.buckets
        for index, n in other.buckets.items():
            buckets[index] = buckets.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    @classmethod
    def merged(cls, histograms: Iterable[Histogram]) -> Histogram:
        """A new histogram holding the samples of all ``histograms``."""
        out = cls()
        for h in histograms:
            out.merge(h)
        return out

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0–100) in ms, ``None`` when empty.

        The answer is clamped to the exact min and max, so p100 is the true maximum and no
        percentile exceeds it (unlike Locust's rounded buckets).
        """
        if not self.count:
            return None
        if q <= 0:
            return self.min
        if q >= 100:
            return self.max
        rank = math.ceil(q / 100.0 * self.count)
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(max(bucket_value(index), self.min), self.max)
        return self.max  # pragma: no cover - rank <= count always stops the loop

    def percentiles(self, qs: Iterable[float]) -> dict[float, float | None]:
        return {q: self.percentile(q) for q in qs}

    def cdf(self) -> list[tuple[float, float]]:
        """``(value_ms, fraction ≤ value)`` points, one per non-empty bucket, ascending."""
        points: list[tuple[float, float]] = []
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            value = min(max(bucket_value(index), self.min), self.max)
            points.append((value, seen / self.count))
        return points

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.count,
            "sum": round(self.total, 4),
            "min": round(self.min, 4) if self.count else None,
            "max": round(self.max, 4) if self.count else None,
            "b": {str(k): v for k, v in sorted(self.buckets.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        h = cls()
        h.buckets = {int(k): int(v) for k, v in data.get("b", {}).items()}
        h.count = int(data.get("n", sum(h.buckets.values())))
        h.total = float(data.get("sum", 0.0))
        if h.count:
            h.min = float(data["min"]) if data.get("min") is not None else bucket_value(min(h.buckets))
            h.max = float(data["max"]) if data.get("max") is not None else bucket_value(max(h.buckets))
        return h

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, p50={self.percentile(50)}, max={self.max if self.count else None})"
