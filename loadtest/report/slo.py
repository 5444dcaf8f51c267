"""SLO expressions evaluated over timeline seconds (pure).

The grammar is :mod:`loadtest.slo`, shared with the harness's ``--slo``; this module measures a parsed
objective over report :class:`~loadtest.report.timeline.Second` records. The report uses it to judge
objectives per load step (capacity) and for runs whose ``run.json`` holds no results (a crash before
the harness evaluated them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from loadtest.histogram import Histogram
from loadtest.report.timeline import Second
from loadtest.slo import COUNTER_GROUPS as GROUPS
from loadtest.slo import EXTRA_COUNTERS, METRICS, TOP_COUNTERS, Slo, SloError
from loadtest.slo import parse_slo as _parse_strict

__all__ = [
    "EXTRA_COUNTERS",
    "GROUPS",
    "METRICS",
    "TOP_COUNTERS",
    "Slo",
    "evaluate",
    "operations",
    "parse_slo",
    "split_exprs",
]


def parse_slo(expr: str) -> Slo | None:
    """Parse one expression; ``None`` when it is not in the grammar (the report then skips it)."""
    try:
        return _parse_strict(expr)
    except SloError:
        return None


def split_exprs(values: Iterable[str]) -> list[str]:
    """``--slo`` values may hold several expressions joined by ``,`` or ``;``."""
    return [item.strip() for v in values for item in re.split(r"[,;]", str(v)) if item.strip()]


def operations(seconds: Sequence[Second]) -> int:
    """Actions + connect attempts + REST calls: the denominator of ``*.ratio`` and of throttle shares."""
    return sum(s.operations for s in seconds)


def _counter(seconds: Sequence[Second], name: str) -> int:
    head, _, entry = name.partition(".")
    if head in GROUPS:
        maps = [getattr(s, head) for s in seconds]
        return sum(m.get(entry, 0) for m in maps) if entry else sum(sum(m.values()) for m in maps)
    if head in TOP_COUNTERS:
        return sum(int(getattr(s, head)) for s in seconds)
    if head == "operations":
        return operations(seconds)
    if head == "connects":
        return sum(s.connects for s in seconds)
    if head == "rest_calls":
        return sum(s.rest_calls for s in seconds)
    return sum(s.extra.get(head, 0) for s in seconds)


def _measure(slo: Slo, seconds: Sequence[Second]) -> float | None:
    if slo.kind == "latency" or slo.stat in ("count", "fail_ratio"):
        h = Histogram.merged(s.metrics[slo.subject] for s in seconds if slo.subject in s.metrics)
        if slo.stat == "count":
            return float(h.count)
        if slo.stat == "fail_ratio":
            failed = sum(s.failures.get(slo.subject, 0) for s in seconds)
            return failed / (h.count + failed) if h.count + failed else 0.0
        return slo.latency_of(h)
    if slo.stat == "failures":
        return float(sum(s.failures.get(slo.subject, 0) for s in seconds))
    if slo.stat == "ratio":
        return _counter(seconds, slo.subject) / max(operations(seconds), 1)
    return float(_counter(seconds, slo.subject))


def evaluate(slo: Slo, seconds: Sequence[Second]) -> tuple[float | None, bool]:
    """``(value, ok)`` over ``seconds``; a latency objective without samples is ``(None, False)``."""
    value = _measure(slo, seconds)
    return value, slo.holds(value)
