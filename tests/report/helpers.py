"""Small builders of timeline data for the report tests."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from loadtest.histogram import Histogram
from loadtest.timeline import Second

RUNS = Path(__file__).resolve().parents[1] / "data" / "runs"


def hist(values: Sequence[float]) -> Histogram:
    h = Histogram()
    for v in values:
        h.record(v)
    return h


def second(
    t: int,
    *,
    users: int = 0,
    step: int | None = None,
    offered_rate: float = 0.0,
    actions: int = 0,
    events: int = 0,
    turns: int = 0,
    metrics: Mapping[str, Sequence[float]] | None = None,
    throttled: Mapping[str, int] | None = None,
    disconnects: Mapping[str, int] | None = None,
    failures: Mapping[str, int] | None = None,
    gauges: Mapping[str, float] | None = None,
    health: Mapping[str, float] | None = None,
    connects: int | None = None,
) -> Second:
    """A second as the timeline reader builds it (connect attempts default to connect samples + failures)."""
    if connects is None:
        connects = len((metrics or {}).get("connect", ())) + (failures or {}).get("connect", 0)
    return Second(
        t=t,
        users=users,
        step=step,
        offered_rate=offered_rate,
        actions=actions,
        events=events,
        turns=turns,
        connects=connects,
        metrics={k: hist(v) for k, v in (metrics or {}).items() if v},
        throttled=dict(throttled or {}),
        disconnects=dict(disconnects or {}),
        failures=dict(failures or {}),
        gauges=dict(gauges or {}),
        health=dict(health or {}),
    )


def copy_run(name: str, dest: Path) -> Path:
    """A writable copy of a committed fixture run folder."""
    target = dest / name
    shutil.copytree(RUNS / name, target)
    return target
