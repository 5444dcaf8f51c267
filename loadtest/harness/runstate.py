"""The typed state of one run on the writing process, and the decisions taken from it (pure).

:class:`History` holds the last written seconds (the windows of the search shapes and the web UI);
:class:`AbortGate` says when ``--slo-abort`` stops the run; :func:`finish` gives the verdict and the
exit codes at the end; :func:`pace_interval` the interval paced users keep. No Locust, no clock, no I/O:
:mod:`loadtest.harness.runtime` feeds them from Locust's events and the run folder.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from loadtest.harness.slo import BreachTracker, LocustError, RunSlos
from loadtest.slo import SloResult
from loadtest.timeline import Second, window
from loadtest.verdict import Verdict

__all__ = ["HISTORY", "AbortGate", "Finish", "History", "finish", "pace_interval"]

HISTORY = 7200  # seconds of merged slices kept for windows (search steps, web UI)


class History:
    """The last ``size`` written seconds of a run that began at wall-clock second ``start_second``."""

    def __init__(self, start_second: int, size: int = HISTORY) -> None:
        self.start_second = start_second
        self._seconds: deque[Second] = deque(maxlen=size)

    def add(self, s: Second) -> None:
        self._seconds.append(s)

    def __len__(self) -> int:
        return len(self._seconds)

    def __iter__(self) -> Iterator[Second]:
        return iter(self._seconds)

    @property
    def latest(self) -> Second | None:
        return self._seconds[-1] if self._seconds else None

    def recent(self, n: int) -> list[Second]:
        return list(self._seconds)[-n:] if n > 0 else []

    def between(self, start_t: float, end_t: float) -> list[Second]:
        """The kept seconds of run time [start_t, end_t)."""
        lo, hi = self.start_second + int(start_t), self.start_second + int(end_t)
        return [s for s in self._seconds if lo <= s.second < hi]

    def window(self, start_t: float, end_t: float, complete_through: int) -> Second | None:
        """Merged data of run seconds [start_t, end_t), or None while they are not all written
        (``complete_through`` is the last run second written)."""
        if complete_through < int(end_t) - 1:
            return None
        return window(self.between(start_t, end_t), self.start_second + int(start_t))


class AbortGate:
    """``--slo-abort``: stop once the objectives over the last ``--slo-window`` seconds have been breached
    continuously for ``hold`` seconds. Trips at most once."""

    def __init__(self, hold: float, window_s: float) -> None:
        self.hold = hold
        self.window_s = int(window_s)
        self._tracker = BreachTracker(hold) if hold > 0 else None
        self.tripped = False

    def check(self, now: float, slos: RunSlos) -> str | None:
        """The breached objectives, described, when the gate trips now; else None."""
        if self._tracker is None or self.tripped:
            return None
        results = slos.results(last=self.window_s)
        if not self._tracker.update(now, results):
            return None
        self.tripped = True
        return "; ".join(r.describe() for r in results if not r.ok)

    def note(self, breached: str) -> str:
        """The run.json note of a trip."""
        return f"aborted by --slo-abort after {self.hold:g}s: {breached}"


@dataclass(frozen=True, slots=True)
class Finish:
    """The end of a run: its objectives' results, its verdict and its exit codes.

    ``process_exit_code`` is what to set on Locust's environment (None: leave Locust's own), ``exit_code``
    what the process exits with, as ``run.json`` records it.
    """

    results: list[SloResult]
    verdict: Verdict
    process_exit_code: int | None
    exit_code: int


def finish(
    slos: RunSlos,
    *,
    profile: Sequence[str],
    target: str | None,
    errors: Mapping[str, LocustError],
    aborted: bool,
    preset_exit_code: int | None,
    runner_failed: bool,
    exit_code_on_error: int,
) -> Finish:
    """Judge the run and choose its exit code.

    A verdict other than ``pass`` sets the exit code (1 for ``error``, 3 for ``fail``); otherwise an exit
    code set earlier in the run (``preset_exit_code``, e.g. 2 for bad options) stands, then Locust's rule:
    ``--exit-code-on-error`` when the runner saw errors or exceptions (``runner_failed``), else 0.
    """
    results, verdict = slos.at_quit(profile, target, errors, aborted)
    process = verdict.exit_code if verdict.verdict != "pass" else preset_exit_code
    code = process if process is not None else exit_code_on_error if runner_failed else 0
    return Finish(results, verdict, process, code)


def pace_interval(rate: float | None, users: int) -> float | None:
    """The interval each of ``users`` paced users keeps so that together they offer ``rate`` actions/s."""
    return users / rate if rate and users else None
