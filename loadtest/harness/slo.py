"""The live side of the SLOs: evaluation over the harness's seconds and the ``--slo-abort`` tracker.

The grammar is :mod:`loadtest.slo`; every value is measured by :func:`loadtest.timeline.measure`,
the same function the report uses. Pure: no Locust, no I/O.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, overload

from loadtest.slo import EXAMPLE, Slo, SloError, SloResult, check, parse_slo, parse_slos, slos_in_force
from loadtest.timeline import ERROR_FAILURES, GAUGES, METRICS, Second, from_line
from loadtest.verdict import Verdict, decide, top_failure_row

__all__ = [
    "EXAMPLE",
    "METRICS",
    "BreachTracker",
    "LocustError",
    "OutageTrace",
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


class LocustError(Protocol):
    """What we read of one entry of Locust's ``stats.errors`` (a ``StatsError``)."""

    @property
    def error(self) -> BaseException | str | None: ...

    @property
    def name(self) -> str: ...

    @property
    def occurrences(self) -> int: ...


def top_failure(errors: Mapping[str, LocustError]) -> str | None:
    """The most frequent failure Locust recorded (its ``stats.errors``), as text naming the cause.

    An exception whose message says nothing readable (a bare status) is shown by its repr.
    """
    top = top_failure_row(errors.values(), lambda e: e.name, lambda e: int(e.occurrences))
    if top is None:
        return None
    error = top.error
    text = str(error) if isinstance(error, BaseException) else ""
    if not any(c.isalpha() for c in text):
        text = error if isinstance(error, str) else repr(error)
    return f"{text} on {top.name} (×{top.occurrences})"


#: Gauges an :class:`OutageTrace` keeps per second (the line's ``users`` and ``offered_rate`` included).
TRACE_GAUGES = ("users", "offered_rate", *GAUGES)
#: Counters it keeps: the failures of the units of work.
TRACE_COUNTERS = tuple(f"failures.{m}" for m in ERROR_FAILURES)


class OutageTrace(Sequence[Second]):
    """Every written second of a run, reduced to its gauges and failure counts, in compact arrays.

    ``outage_s`` needs the run's seconds in order but only their gauges (``users``, ``sockets``,
    ``reconnecting``) and failed connects/reconnects; a whole :class:`Second` with its histograms is
    kilobytes, this is under 100 bytes a second (8 MB for a 24-hour run). Reading an item gives back a
    :class:`Second` with those fields, so :func:`loadtest.slo.measure` runs over it unchanged.
    """

    def __init__(self) -> None:
        self._t = array("q")
        self._gauges = {g: array("d") for g in TRACE_GAUGES}
        self._counters = {c: array("q") for c in TRACE_COUNTERS}

    def add(self, s: Second) -> None:
        self._t.append(s.t)
        for g, values in self._gauges.items():
            values.append(s.gauges.get(g, 0.0))
        for c, counts in self._counters.items():
            counts.append(s.counters.get(c, 0))

    def __len__(self) -> int:
        return len(self._t)

    def _second(self, i: int) -> Second:
        gauges = {g: values[i] for g, values in self._gauges.items() if values[i]}
        counters = {c: counts[i] for c, counts in self._counters.items() if counts[i]}
        return Second(t=self._t[i], gauges=gauges, counters=counters)

    @overload
    def __getitem__(self, i: int) -> Second: ...

    @overload
    def __getitem__(self, i: slice) -> list[Second]: ...

    def __getitem__(self, i: int | slice) -> Second | list[Second]:
        if isinstance(i, slice):
            return [self._second(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._second(i)

    def __iter__(self) -> Iterator[Second]:
        return (self._second(i) for i in range(len(self)))


class RunSlos:
    """One run's objectives and the data they are measured over: the live gate, the web UI's SLO rows
    and the verdict at quit all ask this, so every value comes from one measure over one data.

    ``settings_slos`` are the parsed ``--slo`` objectives, ``raw`` the option's values (to tell
    ``--slo none`` from no ``--slo`` at all). Each second is added as the ``timeline.jsonl`` line the
    writer wrote, read back as the report reads it; the run is kept as the merge of those seconds
    (:attr:`total`) and their :class:`OutageTrace`, the live gate's window as the last ``live_window``
    whole seconds. Memory stays bounded by the window, not the run's length.
    """

    def __init__(self, settings_slos: Sequence[Slo], raw: Sequence[str] | str | None, live_window: int = 60) -> None:
        if settings_slos:
            self.slos, self.source = tuple(settings_slos), "given"
        else:
            self.slos, self.source = slos_in_force(raw)
        self.total = Second(0)
        self.trace = OutageTrace()
        self.recent: deque[Second] = deque(maxlen=max(live_window, 1))

    def add(self, line: Mapping[str, object]) -> Second:
        """One written ``timeline.jsonl`` line; gives back its second as the report will read it."""
        s = from_line(line)
        self.total.merge(s)
        self.total.health.clear()  # merging appends each second's health: a run-long list nothing here reads
        self.trace.add(s)
        self.recent.append(s)
        return s

    def results(self, last: int = 0) -> list[SloResult]:
        """Every objective over the run's seconds so far, or over the ``last`` seconds only (the live window
        of ``--slo-abort``; at most ``live_window``)."""
        if last:
            return evaluate(self.slos, list(self.recent)[-last:]) if self.recent else []
        return evaluate(self.slos, self.trace, merged=self.total)

    def at_quit(
        self, profile: Sequence[str], target: str | None, errors: Mapping[str, LocustError], aborted: bool
    ) -> tuple[list[SloResult], Verdict]:
        """The run's results and verdict: ``errors`` is Locust's ``stats.errors`` (the top failure names
        the cause of an ``error``)."""
        results = self.results()
        verdict = decide(
            self.total, results, profile=profile, target=target or "the target", top_failure=top_failure(errors),
            aborted=aborted, slo_source=self.source,
        )  # fmt: skip
        return results, verdict
