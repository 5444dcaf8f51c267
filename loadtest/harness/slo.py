"""The live side of the SLOs: evaluation over the harness's seconds and the ``--slo-abort`` tracker.

The grammar is :mod:`loadtest.slo`; every value is measured by :func:`loadtest.timeline.measure`,
the same function the report uses. Pure: no Locust, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtest.slo import EXAMPLE, Slo, SloError, parse_slo, parse_slos, slos_in_force
from loadtest.timeline import METRICS, Second, SloResult, check

__all__ = [
    "EXAMPLE",
    "METRICS",
    "BreachTracker",
    "Slo",
    "SloError",
    "SloResult",
    "evaluate",
    "parse_slo",
    "parse_slos",
    "slos_in_force",
]


def evaluate(slos: Sequence[Slo], data: Second | Sequence[Second], merged: Second | None = None) -> list[SloResult]:
    """Every objective measured over ``data`` (the seconds in order; ``merged`` their merge, if kept)."""
    return [check(slo, data, merged=merged) for slo in slos]


class BreachTracker:
    """Says when objectives have been breached continuously for ``hold`` seconds (``--slo-abort``)."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.since: float | None = None

    def update(self, now: float, results: Sequence[SloResult]) -> bool:
        """Feed the latest live results; True once the breach has lasted ``hold`` seconds."""
        breached = any(not r.ok and r.value is not None for r in results)
        if not breached:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.hold
