"""Paced users spread their phases; intended times follow one shared grid."""

from __future__ import annotations

import pytest

from loadtest.harness.pacing import PaceSchedule, PhaseAllocator, interval_for_rate


@pytest.mark.parametrize("users", [1, 2, 10, 100, 1000])
def test_phases_spread_evenly_for_any_user_count(users: int) -> None:
    alloc = PhaseAllocator()
    phases = sorted(alloc.next_phase() for _ in range(users))
    gaps = [b - a for a, b in zip(phases, [*phases[1:], phases[0] + 1.0], strict=True)]
    # three-gap theorem: the golden-ratio sequence never leaves a gap above ~2.6/N
    assert max(gaps) <= 2.7 / users
    # and no burst: at most 3 users share any window of 1/N of the period
    for a in phases:
        assert sum(1 for b in phases if 0 <= (b - a) % 1.0 < 1.0 / users) <= 3


def test_workers_get_shifted_phases() -> None:
    a, b = PhaseAllocator(0), PhaseAllocator(1)
    assert a.next_phase() != b.next_phase()


def test_sends_per_second_are_flat_at_fixed_total_rate() -> None:
    users, rate = 100, 200.0
    interval = interval_for_rate(rate, users)
    alloc = PhaseAllocator()
    scheds = [PaceSchedule(0.0, alloc.next_phase(), interval) for _ in range(users)]
    times = []
    for s in scheds:
        for _ in range(40):
            times.append(s.next_slot(0.0).intended_at)
    per_10ms: dict[int, int] = {}
    for t in times:
        if t < 10.0:
            per_10ms[int(t * 100)] = per_10ms.get(int(t * 100), 0) + 1
    # 2 sends per 10 ms on average; phase lock would put 100 in one bucket
    assert max(per_10ms.values()) <= 5


def test_intended_times_and_catch_up() -> None:
    s = PaceSchedule(epoch=100.0, phase=0.25, interval=2.0, max_behind=1.0)
    first = s.next_slot(now=101.0)
    assert first.intended_at == pytest.approx(102.5) and first.dropped == 0
    assert s.next_slot(now=102.5).intended_at == pytest.approx(104.5)
    # a stall of 9 s: the slot at 106.5 is 4.5 s late → skip to the oldest slot within one interval
    late = s.next_slot(now=111.0)
    assert late.intended_at == pytest.approx(110.5)
    assert late.dropped == 2  # 106.5 and 108.5 were skipped
    assert s.next_slot(now=111.0).intended_at == pytest.approx(112.5)


def test_retime_keeps_phase_on_a_shared_grid() -> None:
    a = PaceSchedule(0.0, 0.1, 1.0)
    b = PaceSchedule(0.0, 0.6, 1.0)
    a.retime(0.5, now=10.01)
    b.retime(0.5, now=10.2)
    ta, tb = a.next_slot(10.3).intended_at, b.next_slot(10.3).intended_at
    assert ta == pytest.approx(10.55) and tb == pytest.approx(10.3)
    assert a.rate == 2.0


def test_invalid_intervals() -> None:
    with pytest.raises(ValueError):
        PaceSchedule(0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        interval_for_rate(0.0, 10)
