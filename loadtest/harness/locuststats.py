"""`--locust-rows batched`: our successful measurements reach Locust's statistics once per second, not one call each.

By default (`--locust-rows each`) every measurement is one ``events.request`` (what other Locust listeners
expect). That costs ~4 µs a row in Locust's `StatsEntry.log` (time stamp, rounding, two dict updates, for the
entry and again for the "Aggregated" row), four rows per chat turn: 16 % of the generator's CPU at saturation.
In batched mode the :class:`~loadtest.harness.metrics.Recorder` keeps the values of the current second and,
when it closes the second, adds them to the same `StatsEntry` fields that `StatsEntry.log` would have touched:
counts, the per-second request count (of the second they belong to), content length, total/min/max response
time and the rounded response-time buckets. Locust's table, charts, CSVs and its worker → master reports show
the same figures; only listeners of ``events.request`` other than Locust's own stop seeing our successful rows
(failures always fire one by one). Our own histograms and timeline never depend on either mode.
"""

from __future__ import annotations

from locust.stats import RequestStats, StatsEntry, bucket_response_time

import time
from typing import Any

__all__ = ["BatchedRows"]


class BatchedRows:
    """Successful rows of the current second per name, added to Locust's `RequestStats` by :meth:`flush`."""

    def __init__(self, stats: RequestStats, request_type: str) -> None:
        self.stats = stats
        self.request_type = request_type
        self._values: dict[str, list[float]] = {}
        self._lengths: dict[str, int] = {}

    def add(self, name: str, ms: float, length: int) -> None:
        values = self._values.get(name)
        if values is None:
            values = self._values[name] = []
        values.append(ms)
        if length:
            self._lengths[name] = self._lengths.get(name, 0) + length

    def pending(self) -> int:
        return sum(map(len, self._values.values()))

    def clear(self) -> None:
        self._values.clear()
        self._lengths.clear()

    def flush(self, second: int) -> None:
        """Add every pending row to Locust's stats as requests made in `second` (epoch seconds)."""
        if not self._values:
            return
        values_by_name, lengths = self._values, self._lengths
        self._values, self._lengths = {}, {}
        stamp = min(time.time(), second + 0.999)
        total = self.stats.total
        for name, values in values_by_name.items():
            length = lengths.get(name, 0)
            entry = self.stats.get(name, self.request_type)
            _add(entry, values, length, second, stamp)
            _add(total, values, length, second, stamp)


def _add(entry: StatsEntry, values: list[float], length: int, second: int, stamp: float) -> None:
    """What `StatsEntry.log` does for each value, done once for the list."""
    last = entry.last_request_timestamp
    if entry.use_response_times_cache and last and second > int(last):
        entry._cache_response_times(second - 1)  # the "current percentile" window of the web UI, as log() does
    n = len(values)
    entry.num_requests += n
    entry.num_reqs_per_sec[second] += n
    if last is None or stamp > last:
        entry.last_request_timestamp = stamp
    entry.total_content_length += length
    # Locust declares these int, yet holds the float milliseconds events.request carries (log() adds them as given)
    times: Any = entry
    times.total_response_time += sum(values)
    low, high = min(values), max(values)
    times.min_response_time = low if entry.min_response_time is None else min(entry.min_response_time, low)
    times.max_response_time = max(entry.max_response_time, high)
    buckets = entry.response_times
    for v in values:
        buckets[bucket_response_time(v)] += 1
