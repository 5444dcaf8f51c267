"""The mergeable latency histogram: error bound, merging, percentiles, serialisation."""

from __future__ import annotations

import json
import math
import random

from hypothesis import given
from hypothesis import strategies as st

from loadtest.histogram import GAMMA, MAX_MS, MIN_MS, Histogram, bucket_index, bucket_value


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@given(st.floats(min_value=MIN_MS * 1.0001, max_value=MAX_MS * 0.9999))
def test_relative_error_of_any_value_is_at_most_one_percent(value: float) -> None:
    reported = bucket_value(bucket_index(value))
    assert abs(reported - value) / value <= (GAMMA - 1) / (GAMMA + 1) + 1e-12
    assert (GAMMA - 1) / (GAMMA + 1) < 0.01


def test_percentiles_agree_with_exact_ones_within_one_percent() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1.5) for _ in range(20_000)]
    h = Histogram()
    for v in values:
        h.record(v)
    for q in (50, 90, 95, 99, 99.9):
        got = h.percentile(q)
        want = exact_percentile(values, q)
        assert got is not None and abs(got - want) / want <= 0.01, (q, got, want)
    assert h.percentile(100) == max(values)
    assert h.percentile(0) == min(values)
    assert h.count == len(values)
    assert math.isclose(h.mean or 0, sum(values) / len(values))


def test_merge_equals_recording_everything_in_one() -> None:
    rng = random.Random(3)
    parts = [[rng.expovariate(1 / 50) for _ in range(500)] for _ in range(4)]
    merged = Histogram.merged(_hist(p) for p in parts)
    whole = _hist([v for p in parts for v in p])
    assert merged.buckets == whole.buckets
    assert merged.count == whole.count
    assert merged.min == whole.min and merged.max == whole.max
    assert math.isclose(merged.total, whole.total)


def test_json_round_trip_keeps_everything() -> None:
    h = _hist([0.05, 1.0, 2.5, 250.0, 250.0, 7_200_000.0])
    back = Histogram.from_dict(json.loads(json.dumps(h.to_dict())))
    assert back.buckets == h.buckets and back.count == 6
    assert back.min == 0.05 and back.max == 7_200_000.0
    assert back.percentile(50) == h.percentile(50)


def test_empty_histogram_has_no_percentiles_and_serialises() -> None:
    h = Histogram()
    assert h.percentile(50) is None and h.mean is None and h.cdf() == []
    assert Histogram.from_dict(h.to_dict()).count == 0


def test_out_of_range_values_are_clamped_not_lost() -> None:
    h = _hist([-5.0, float("nan"), 1e12])
    assert h.count == 3
    assert len(h.buckets) == 2


def test_cdf_is_monotone_and_ends_at_one() -> None:
    h = _hist([1, 2, 3, 10, 100, 100])
    points = h.cdf()
    assert [p[1] for p in points] == sorted(p[1] for p in points)
    assert points[-1][1] == 1.0


def _hist(values: list[float]) -> Histogram:
    h = Histogram()
    for v in values:
        h.record(v)
    return h
