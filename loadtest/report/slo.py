"""SLO expressions for the report: lenient parsing, and values from the one measurer (pure).

The grammar is :mod:`loadtest.slo`; values come from :func:`loadtest.timeline.measure`, the same
function the harness's live gate and exit code use. The report judges objectives per load step
(capacity) and for runs whose ``run.json`` holds no results (a crash before the harness evaluated them).
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtest.slo import Slo, SloError, measure, split_exprs
from loadtest.slo import parse_slo as _parse_strict
from loadtest.timeline import Second

__all__ = ["Slo", "evaluate", "operations", "parse_slo", "split_exprs"]


def parse_slo(expr: str) -> Slo | None:
    """Parse one expression; ``None`` when it is not in the grammar (the report then skips it)."""
    try:
        return _parse_strict(expr)
    except SloError:
        return None


def operations(seconds: Sequence[Second]) -> int:
    """Actions + connect attempts + REST calls: the denominator of ``*.ratio`` and of throttle shares."""
    return sum(s.operations for s in seconds)


def evaluate(slo: Slo, seconds: Sequence[Second]) -> tuple[float | None, bool]:
    """``(value, ok)`` over ``seconds``; a latency objective without samples is ``(None, False)``."""
    value = measure(slo, seconds) if seconds else measure(slo, Second())
    return value, slo.holds(value)
