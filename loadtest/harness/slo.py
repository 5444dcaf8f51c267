"""The live side of the SLOs: evaluation over the harness's seconds and the ``--slo-abort`` tracker.

The grammar is :mod:`loadtest.slo`; every value is measured by :func:`loadtest.timeline.measure`,
the same function the report uses. Pure: no Locust, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loadtest.slo import EXAMPLE, Slo, SloError, SloResult, check, parse_slo, parse_slos, slos_in_force
from loadtest.timeline import METRICS, Second
from loadtest.verdict import Verdict, decide

__all__ = [
    "EXAMPLE",
    "METRICS",
    "BreachTracker",
    "RunSlos",
    "Slo",
    "SloError",
    "SloResult",
    "evaluate",
    "parse_slo",
    "parse_slos",
    "slos_in_force",
    "top_failure",
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


def top_failure(errors: Mapping[Any, Any]) -> str | None:
    """The most frequent failure Locust recorded (its ``stats.errors``), as text naming the cause.

    An exception whose message says nothing readable (a bare status) is shown by its repr.
    """
    top = max(errors.values(), key=lambda e: int(e.occurrences), default=None)
    if top is None:
        return None
    error = top.error
    text = str(error) if isinstance(error, BaseException) else ""
    if not any(c.isalpha() for c in text):
        text = error if isinstance(error, str) else repr(error)
    return f"{text} on {top.name} (×{top.occurrences})"


class RunSlos:
    """One run's objectives and the seconds they are measured over: the live gate, the web UI's SLO
    rows and the verdict at quit all ask this, so every value comes from one measure over one data.

    ``settings_slos`` are the parsed ``--slo`` objectives, ``raw`` the option's values (to tell
    ``--slo none`` from no ``--slo`` at all). Every written second is kept for ``outage_s``.
    """

    def __init__(self, settings_slos: Sequence[Slo], raw: Sequence[str] | str | None) -> None:
        if settings_slos:
            self.slos, self.source = tuple(settings_slos), "given"
        else:
            self.slos, self.source = slos_in_force(raw)
        self.seconds: list[Second] = []

    def add(self, s: Second) -> None:
        self.seconds.append(s)

    def results(self, merged: Second | None = None, last: int = 0) -> list[SloResult]:
        """Every objective over the run's seconds so far (``merged``: their merge, if the caller keeps
        it), or over the ``last`` seconds only (the live window of ``--slo-abort``)."""
        if last:
            return evaluate(self.slos, self.seconds[-last:]) if self.seconds else []
        return evaluate(self.slos, self.seconds, merged=merged)

    def at_quit(
        self, total: Second, profile: Sequence[str], target: str | None, errors: Mapping[Any, Any], aborted: bool
    ) -> tuple[list[SloResult], Verdict]:
        """The run's results and verdict: ``total`` is the merge of its seconds, ``errors`` Locust's
        ``stats.errors`` (the top failure names the cause of an ``error``)."""
        results = self.results(merged=total)
        verdict = decide(
            total, results, profile=profile, target=target or "the target", top_failure=top_failure(errors),
            aborted=aborted, slo_source=self.source,
        )  # fmt: skip
        return results, verdict
