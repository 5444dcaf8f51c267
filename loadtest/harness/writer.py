"""The writing process's side of a run (local or master): assembly, ``timeline.jsonl``, ``run.json``, SLO gate, end.

One :class:`RunWriter` per Locust environment, owned by its :class:`~loadtest.harness.runtime.Runtime`.
A writer loop appends each complete second of the :class:`Assembler` to the timeline, checks
``--slo-abort`` and tells paced users their interval (message ``loadtest_pace``). At the end
(``quitting`` when headless, ``test_stop`` in the web UI) the run is judged (verdict and reason; exit 3
on a breach, 1 when nothing was measured), ``run.json`` is written, the report built. The shapes and the
web UI read the run through it.

The Locust side only: the state and every decision are typed and pure in
:class:`~loadtest.harness.runlog.RunLog` (``run.json`` and its steps), :class:`~loadtest.harness.slo.RunSlos`
(the objectives and their data) and :mod:`loadtest.harness.runstate` (history, ``--slo-abort``, the
finish and its exit codes, pacing).
"""

from __future__ import annotations

import gevent

from locust.env import Environment
from locust.runners import MasterRunner, Runner

import logging
import sys
import time
from collections.abc import Callable

from loadtest.harness.options import Settings
from loadtest.harness.runlog import RunLog
from loadtest.harness.runstate import AbortGate, History, finish, pace_interval
from loadtest.harness.slo import RunSlos
from loadtest.harness.timeline import Assembler
from loadtest.timeline import Second, to_line

__all__ = ["EXIT_SLO", "MASTER_MAX_LAG", "PACE_MESSAGE", "RunWriter"]

logger = logging.getLogger("loadtest.harness")

EXIT_SLO = 3
PACE_MESSAGE = "loadtest_pace"
MASTER_MAX_LAG = 10  # seconds the master waits for a slow worker's slices


class RunWriter:
    """One run as the writing process keeps it; a new run (web UI) starts it again."""

    def __init__(self, environment: Environment, bottleneck_warnings: Callable[[], int] = lambda: 0) -> None:
        self.environment = environment
        self.bottleneck_warnings = bottleneck_warnings  # this process's slow-generator warnings, for run.json
        self.settings: Settings | None = None
        self.assembler: Assembler | None = None
        self.runlog: RunLog | None = None
        self.start_second = 0
        self.history = History(0)
        self.judge = RunSlos((), None)
        self.offered_rate: float | None = None  # a shape's total offered rate for paced users
        self.offered_users: int | None = None
        self.gate = AbortGate(0, 0)
        self.finished = True
        self.lost_workers: set[str] = set()
        self._loop: gevent.Greenlet | None = None

    @property
    def runner(self) -> Runner | None:
        return self.environment.runner

    @property
    def aborted(self) -> bool:
        return self.gate.tripped

    @property
    def total(self) -> Second:
        """The merge of every second written so far."""
        return self.judge.total

    def workers(self) -> int:
        runner = self.runner
        return len(runner.clients) or 1 if isinstance(runner, MasterRunner) else 1

    # -- start and end -----------------------------------------------------------------------------

    def start(self, settings: Settings) -> None:
        self.finish()  # a previous run in the web UI that was not closed
        self.settings = settings
        profile = sorted(cls.__name__ for cls in self.environment.user_classes)
        shape_obj = self.environment.shape_class
        shape = getattr(shape_obj, "run_shape_name", None) if shape_obj is not None else None
        if shape_obj is not None and not hasattr(shape_obj, "run_shape_name"):
            shape = type(shape_obj).__name__
        self.runlog = RunLog.start(settings, profile=profile, shape=shape)
        self.start_second = int(time.time())
        self.assembler = Assembler(self.start_second)
        self.history = History(self.start_second)
        raw = getattr(self.environment.parsed_options, "slo", None)
        self.judge = RunSlos(settings.slos, raw, live_window=int(settings.slo_window))
        self.runlog.set_slo_source(self.judge.source)
        self.lost_workers = set()
        self.gate = AbortGate(settings.slo_abort, settings.slo_window)
        self.finished = False
        self.begin_step(0, None, None)
        logger.info("loadtest run folder: %s", self.runlog.folder)
        if self._loop is None or self._loop.dead:
            self._loop = gevent.spawn(self._writer_loop)

    def drain(self) -> None:
        """End a distributed run gracefully: stop the workers and wait (bounded) for their last seconds.

        Called by our shapes before they end the run; Locust's own headless quit gives workers only
        0.5 s to report, which can cut off the timeline's last second.
        """
        runner = self.runner
        if not isinstance(runner, MasterRunner) or self.assembler is None:
            return
        runner.stop()
        deadline = time.monotonic() + MASTER_MAX_LAG
        while time.monotonic() < deadline:
            waiting = [src for src in self.assembler.closed if src not in self.assembler.finished]
            if not waiting:
                return
            gevent.sleep(0.1)
        logger.warning("workers %s did not send their last seconds; the timeline may miss them", waiting)

    def finish_later(self) -> None:
        """Web UI: wait (bounded) for the workers' last slices, then close the run."""
        deadline = time.monotonic() + (MASTER_MAX_LAG if isinstance(self.runner, MasterRunner) else 0)
        while time.monotonic() < deadline and self.assembler is not None:
            pending = [s for s, c in self.assembler.closed.items() if s not in self.assembler.finished]
            if not pending:
                break
            gevent.sleep(0.5)
        self.finish()

    def finish(self) -> None:
        """Write the last seconds, judge the run, write the final ``run.json`` and build the report (once)."""
        if self.finished or self.runlog is None or self.assembler is None or self.settings is None:
            return
        self.finished = True
        self.offered_rate = self.offered_users = None  # a shape sets them before each run starts
        self.write(self.assembler.flush())
        record = getattr(self.environment.shape_class, "record_outcome", None)
        if record is not None:
            record()
        runner = self.runner
        opts = self.environment.parsed_options
        end = finish(
            self.judge,
            profile=self.runlog.profile,
            target=self.settings.host,
            errors=runner.stats.errors if runner is not None else {},
            aborted=self.aborted,
            preset_exit_code=self.environment.process_exit_code,
            runner_failed=runner is not None and bool(runner.errors or runner.exceptions),
            exit_code_on_error=int(getattr(opts, "exit_code_on_error", 1)),
        )
        for r in end.results:
            (logger.error if not r.ok else logger.info)("SLO %s", r.describe())
        self.environment.process_exit_code = end.process_exit_code
        print(f"loadtest verdict: {end.verdict.verdict}: {end.verdict.reason}", file=sys.stderr)
        self.runlog.finish(
            exit_code=end.exit_code,
            verdict=end.verdict.verdict,
            reason=end.verdict.reason,
            slo=end.results,
            end_t=max(self.complete_through() + 1, 0),
            late_slices=self.assembler.late,
            bottleneck_warnings=self.bottleneck_warnings(),
        )
        if not self.settings.skip_report:
            self.runlog.build_report()

    # -- the writer loop ---------------------------------------------------------------------------

    def _writer_loop(self) -> None:
        max_lag = MASTER_MAX_LAG if isinstance(self.runner, MasterRunner) else 2
        while not self.finished:
            gevent.sleep(max(0.0, 1.0 - (time.time() % 1.0)) + 0.2)
            if self.finished or self.assembler is None:
                return
            if isinstance(self.runner, MasterRunner):
                for worker in list(self.runner.clients):  # every connected worker, reported or not
                    if worker not in self.lost_workers:
                        self.assembler.expect(worker)
            self.write(self.assembler.ready(int(time.time()), max_lag))
            self.broadcast_pace()
            self._check_abort()

    def write(self, slices: list[Second]) -> None:
        if self.runlog is None:
            return
        workers = self.workers()
        lost = self._note_lost_workers()
        for s in slices:
            s.t = t = s.second - self.start_second
            s.step = self.runlog.steps.at(t)
            line = to_line(s, t=t, step=s.step, workers=workers, lost_workers=lost)
            self.runlog.append(line)
            self.history.add(s)
            self.judge.add(line)

    def _note_lost_workers(self) -> int:
        """Workers Locust marked missing (no heartbeat): noted in run.json once, no longer waited for.

        Locust forgets a missing worker after a minute, so the count is kept here for the whole run.
        """
        runner = self.runner
        missing = runner.clients.missing if isinstance(runner, MasterRunner) else []
        for node in missing:
            if node.id in self.lost_workers:
                continue
            self.lost_workers.add(node.id)
            if self.assembler is not None:
                self.assembler.drop_source(node.id)  # its seconds up to the loss are kept; nothing more is awaited
            t = int(self.run_time())
            logger.warning("Locust worker %s lost at t = %d s; the run goes on with the others", node.id, t)
            if self.runlog is not None:
                self.runlog.note(f"Locust worker {node.id} lost at t = {t} s (no heartbeat); the run went on")
        return len(self.lost_workers)

    def _check_abort(self) -> None:
        breached = self.gate.check(time.time(), self.judge)
        if breached is None or self.settings is None:
            return
        logger.error("SLO breached for %gs, stopping the run (--slo-abort): %s", self.settings.slo_abort, breached)
        if self.runlog is not None:
            self.runlog.note(self.gate.note(breached))
        self.environment.process_exit_code = EXIT_SLO
        gevent.spawn(self.stop_runner)

    def stop_runner(self) -> None:
        opts = self.environment.parsed_options
        if opts is not None and opts.headless and self.runner is not None:
            self.runner.quit()
        elif self.runner is not None:
            self.runner.stop()

    # -- steps, pace and windows (used by shapes) -------------------------------------------------

    def run_time(self) -> float:
        return time.time() - self.start_second

    def begin_step(self, index: int, users: int | None, offered_rate: float | None) -> None:
        """A shape is in step ``index`` now (``users`` / total ``offered_rate`` if it sets them)."""
        if self.runlog is not None:
            self.runlog.begin_step(index, int(self.run_time()), users, offered_rate)

    def set_offered_rate(self, rate: float | None, users: int | None = None) -> None:
        """A shape sets the total offered action rate of the paced users (``users`` of them, if known)."""
        self.offered_rate = rate
        self.offered_users = users
        self.broadcast_pace()

    def complete_through(self) -> int:
        """The last run second (``t``) written to the timeline."""
        return (self.assembler.next - 1 - self.start_second) if self.assembler else -1

    def window(self, start_t: float, end_t: float) -> Second | None:
        """Merged data of run seconds [start_t, end_t), or None while they are not all written."""
        return self.history.window(start_t, end_t, self.complete_through())

    def _paced_users(self) -> int:
        counts = self.runner.target_user_classes_count if self.runner is not None else {}
        paced = {cls.__name__ for cls in self.environment.user_classes if getattr(cls, "paced", False)}
        return sum(n for name, n in counts.items() if name in paced)

    def broadcast_pace(self) -> None:
        """Tell every process with users the interval its paced users keep (the shape's rate, else --action-rate)."""
        if self.settings is None or self.runner is None:
            return
        rate = self.offered_rate if self.offered_rate is not None else (self.settings.action_rate or None)
        interval = pace_interval(rate, self._paced_users() or (self.offered_users or 0))
        self.runner.send_message(PACE_MESSAGE, {"interval": interval, "workers": self.workers()})
