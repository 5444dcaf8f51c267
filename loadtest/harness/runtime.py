"""Wiring into Locust's events: settings, per-second timeline, worker → master, run folder, SLO gate.

One :class:`Runtime` per Locust ``Environment`` (:func:`runtime_for`). On every process with users
(local or worker) a ticker closes each second of the :class:`Recorder`; a worker ships its closed
seconds with ``report_to_master``. On the process that writes (local or master) the slices go
into an :class:`Assembler`, and a writer loop appends each complete second to ``timeline.jsonl``,
checks ``--slo-abort`` and tells paced users their interval (message ``loadtest_pace``). At the end
(``quitting`` when headless, ``test_stop`` in the web UI) the run is judged (verdict and reason;
exit 3 on a breach, 1 when nothing was measured), ``run.json`` is written, the report built.

This module is the Locust side only; the run's state and every decision taken from it are typed and
pure: :class:`~loadtest.harness.runlog.RunLog` (``run.json`` and its steps),
:class:`~loadtest.harness.slo.RunSlos` (the objectives and their data), and
:mod:`loadtest.harness.runstate` (history, ``--slo-abort``, the finish and its exit codes, pacing).
`users.py` calls :func:`install`, which registers the listeners once.
"""

from __future__ import annotations

import gevent

from locust import events
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, Runner, WorkerRunner

import itertools
import logging
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType

from loadtest.harness.locuststats import BatchedRows
from loadtest.harness.metrics import REQUEST_TYPE, Recorder
from loadtest.harness.options import OptionError, Settings, add_options
from loadtest.harness.pacing import PhaseAllocator
from loadtest.harness.runlog import RunLog
from loadtest.harness.runstate import AbortGate, History, finish, pace_interval
from loadtest.harness.slo import RunSlos
from loadtest.harness.timeline import Assembler, SlicesPayload, read_payload, slices_payload
from loadtest.harness.webui import install_web_ui
from loadtest.timeline import Second, to_line

__all__ = ["EXIT_SLO", "PACE_MESSAGE", "Runtime", "install", "runtime_for"]

logger = logging.getLogger("loadtest.harness")

EXIT_SLO = 3
PACE_MESSAGE = "loadtest_pace"
REPORT_KEY = "loadtest_timeline"
FINAL_MESSAGE = "loadtest_final_slices"
MASTER_MAX_LAG = 10  # seconds the master waits for a slow worker's slices


class Runtime:
    """The harness's state for one Locust environment."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.settings: Settings | None = None
        runner = environment.runner
        self.recorder = Recorder(
            environment.events.request,
            worker_index=runner.worker_index if isinstance(runner, WorkerRunner) else 0,
            user_count=lambda: environment.runner.user_count if environment.runner is not None else 0,
        )
        self.phases = PhaseAllocator(self.recorder.worker_index)
        self.pace_epoch = time.perf_counter()
        self.pace_interval: float | None = None  # set by the writer (total rate) or a shape
        self.workers = 1
        self._ids = itertools.count()
        # writer side
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
        self.ticking = False
        self._greenlets: dict[str, gevent.Greenlet] = {}

    # -- roles -------------------------------------------------------------------------------------

    @property
    def runner(self) -> Runner | None:
        return self.environment.runner

    @property
    def has_users(self) -> bool:
        return not isinstance(self.runner, MasterRunner)

    @property
    def writes(self) -> bool:
        return not isinstance(self.runner, WorkerRunner)

    @property
    def aborted(self) -> bool:
        return self.gate.tripped

    @property
    def total(self) -> Second:
        """The merge of every second written so far."""
        return self.judge.total

    def _workers(self) -> int:
        runner = self.runner
        return len(runner.clients) or 1 if isinstance(runner, MasterRunner) else 1

    # -- settings ----------------------------------------------------------------------------------

    def read_settings(self, *, need_host: bool = True) -> Settings:
        opts = self.environment.parsed_options
        return Settings.from_options(opts if opts is not None else {}, self.environment.host, need_host=need_host)

    def next_conversation_id(self) -> str | None:
        ids = self.settings.conversation_ids if self.settings else ()
        if not ids:
            return None
        k = next(self._ids)
        return ids[(self.recorder.worker_index + k * max(self.workers, 1)) % len(ids)]

    def user_interval(self, default: float) -> float:
        """The interval a paced user should keep now: the master's word, else ``default``."""
        if self.pace_interval is None and isinstance(self.runner, LocalRunner) and self.writes:
            self._broadcast_pace()  # a local run need not wait for the writer's next second
        return self.pace_interval if self.pace_interval is not None else default

    # -- test start / stop -------------------------------------------------------------------------

    def on_test_start(self) -> None:
        try:
            self.settings = self.read_settings()
        except OptionError as exc:
            logger.error("%s", exc)
            self.environment.process_exit_code = 2
            gevent.spawn(self.stop_runner)
            return
        self.recorder.bottleneck.lag_limit_ms = self.settings.lag_warning_ms
        runner = self.runner
        if isinstance(runner, WorkerRunner):  # the index is assigned once the master has answered
            self.recorder.worker_index = self.phases.worker_index = int(runner.worker_index)
        self.pace_interval = None
        if self.has_users and runner is not None:
            batched = self.settings.locust_rows == "batched"
            self.recorder.rows = BatchedRows(runner.stats, REQUEST_TYPE) if batched else None
            self.recorder.reset()
            self.recorder.probe.start()
            self.ticking = True
            self._spawn(self._tick_loop)
        if self.writes:
            self._start_run()

    def _start_run(self) -> None:
        assert self.settings is not None
        self._finish_run()  # a previous run in the web UI that was not closed
        profile = sorted(cls.__name__ for cls in self.environment.user_classes)
        shape_obj = self.environment.shape_class
        shape = getattr(shape_obj, "run_shape_name", None) if shape_obj is not None else None
        if shape_obj is not None and not hasattr(shape_obj, "run_shape_name"):
            shape = type(shape_obj).__name__
        self.runlog = RunLog.start(self.settings, profile=profile, shape=shape)
        self.start_second = int(time.time())
        self.assembler = Assembler(self.start_second)
        self.history = History(self.start_second)
        raw = getattr(self.environment.parsed_options, "slo", None)
        self.judge = RunSlos(self.settings.slos, raw, live_window=int(self.settings.slo_window))
        self.runlog.set_slo_source(self.judge.source)
        self.lost_workers = set()
        self.gate = AbortGate(self.settings.slo_abort, self.settings.slo_window)
        self.finished = False
        self.begin_step(0, None, None)
        logger.info("loadtest run folder: %s", self.runlog.folder)
        self._spawn(self._writer_loop)

    def on_test_stop(self) -> None:
        runner = self.runner
        if self.has_users:
            self.ticking = False
            self.recorder.roll(final=True)
            self.recorder.probe.stop()
            t = self.recorder.totals
            logger.info(
                "loadtest totals of this process (worker %d): actions=%d events=%d bytes=%d turns=%d",
                self.recorder.worker_index,
                t.get("actions", 0),
                t.get("events", 0),
                t.get("bytes", 0),
                t.get("turns", 0),
            )
            if self.writes:
                self._feed_local(final=True)
            elif runner is not None:  # a worker: ship the last seconds now rather than with the next stats report
                runner.send_message(FINAL_MESSAGE, self.closed_slices())
        opts = self.environment.parsed_options
        if self.writes and opts is not None and not opts.headless:
            gevent.spawn(self._finish_later)  # web UI: wait for the workers' last slices, then close the run

    def on_quitting(self) -> None:
        if self.writes:
            self._finish_run()

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

    def _finish_later(self) -> None:
        deadline = time.monotonic() + (MASTER_MAX_LAG if isinstance(self.runner, MasterRunner) else 0)
        while time.monotonic() < deadline and self.assembler is not None:
            pending = [s for s, c in self.assembler.closed.items() if s not in self.assembler.finished]
            if not pending:
                break
            gevent.sleep(0.5)
        self._finish_run()

    # -- the per-second loops ----------------------------------------------------------------------

    def _spawn(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in a greenlet unless one of it is still running."""
        name = fn.__name__
        running = self._greenlets.get(name)
        if running is not None and not running.dead:
            return
        self._greenlets[name] = gevent.spawn(fn)

    def _tick_loop(self) -> None:
        while self.ticking:
            now = time.time()
            gevent.sleep(max(0.0, 1.0 - (now % 1.0)) + 0.01)
            if not self.ticking:
                return
            self.recorder.roll()
            if self.writes:
                self._feed_local()

    def _feed_local(self, final: bool = False) -> None:
        slices, closed_through = self.recorder.take_closed()
        if self.assembler is not None:
            self.assembler.add("local", slices, closed_through, final=final)

    def closed_slices(self) -> SlicesPayload:
        """This worker's closed seconds, for the master."""
        slices, closed_through = self.recorder.take_closed()
        return slices_payload(slices, closed_through, final=not self.ticking)

    def on_report_to_master(self, data: dict[str, object]) -> None:
        data[REPORT_KEY] = self.closed_slices()

    def on_slices(self, client_id: str, payload: object) -> None:
        """A worker's :class:`SlicesPayload` (with its stats report, or its final message)."""
        got = read_payload(payload)
        if got is not None and self.assembler is not None:
            slices, closed_through, final = got
            self.assembler.add(client_id, slices, closed_through, final=final)

    def _writer_loop(self) -> None:
        max_lag = MASTER_MAX_LAG if isinstance(self.runner, MasterRunner) else 2
        while not self.finished:
            gevent.sleep(max(0.0, 1.0 - (time.time() % 1.0)) + 0.2)
            if self.finished or self.assembler is None:
                return
            self._write(self.assembler.ready(int(time.time()), max_lag))
            self._broadcast_pace()
            self._check_abort()

    def _write(self, slices: list[Second]) -> None:
        if self.runlog is None:
            return
        workers = self._workers()
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
        self._broadcast_pace()

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

    def _broadcast_pace(self) -> None:
        if self.settings is None or self.runner is None:
            return
        rate = self.offered_rate if self.offered_rate is not None else (self.settings.action_rate or None)
        interval = pace_interval(rate, self._paced_users() or (self.offered_users or 0))
        self.runner.send_message(PACE_MESSAGE, {"interval": interval, "workers": self._workers()})

    def on_pace_message(self, data: dict[str, object]) -> None:
        interval, workers = data.get("interval"), data.get("workers")
        self.pace_interval = float(interval) if isinstance(interval, int | float) and interval else None
        self.workers = int(workers) if isinstance(workers, int) and workers else 1

    # -- SLOs and the end --------------------------------------------------------------------------

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

    def _finish_run(self) -> None:
        if self.finished or self.runlog is None or self.assembler is None or self.settings is None:
            return
        self.finished = True
        self.offered_rate = self.offered_users = None  # a shape sets them before each run starts
        self._write(self.assembler.flush())
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
            bottleneck_warnings=self.recorder.bottleneck.warnings,
        )
        if not self.settings.skip_report:
            self.runlog.build_report()


# -- registration -----------------------------------------------------------------------------------

_runtimes: weakref.WeakKeyDictionary[Environment, Runtime] = weakref.WeakKeyDictionary()
_installed = False


def runtime_for(environment: Environment) -> Runtime:
    rt = _runtimes.get(environment)
    if rt is None:
        rt = _runtimes[environment] = Runtime(environment)
    return rt


def install() -> None:
    """Register the harness's Locust listeners (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    events.init_command_line_parser.add_listener(add_options)
    events.init.add_listener(_on_init)
    events.test_start.add_listener(lambda environment, **_: runtime_for(environment).on_test_start())
    events.test_stop.add_listener(lambda environment, **_: runtime_for(environment).on_test_stop())
    events.quitting.add_listener(lambda environment, **_: runtime_for(environment).on_quitting())
    events.report_to_master.add_listener(_on_report_to_master)
    events.worker_report.add_listener(_on_worker_report)


def _on_init(environment: Environment, **_: object) -> None:
    rt = runtime_for(environment)
    runner = environment.runner
    if runner is not None and not isinstance(runner, MasterRunner):
        runner.register_message(PACE_MESSAGE, lambda environment, msg, **_: rt.on_pace_message(msg.data or {}))
    if isinstance(runner, MasterRunner):
        runner.register_message(FINAL_MESSAGE, lambda environment, msg, **_: rt.on_slices(msg.node_id, msg.data))
    if isinstance(runner, WorkerRunner) or environment.parsed_options is None:
        return  # a worker gets the master's options with each spawn
    install_web_ui(environment, rt)
    headless = bool(getattr(environment.parsed_options, "headless", False))
    try:
        rt.settings = rt.read_settings(need_host=headless)
    except OptionError as exc:
        if getattr(environment.parsed_options, "logfile", None):
            logger.error("%s", exc)
        sys.stderr.write(f"locust: error: {exc}\n")
        sys.exit(2)
    if isinstance(runner, LocalRunner | MasterRunner) and headless:
        logger.debug("loadtest settings: %r", rt.settings)
        _stop_on_sigterm()


def _stop_on_sigterm() -> None:
    """SIGTERM ends a headless run the way Ctrl-C does: quitting fires, the run folder and report are finished.

    Locust registers its own SIGTERM watcher on the gevent loop, but with our users running it may not be
    armed until the loop is idle (seen with Locust 2.47: the process died of SIGTERM with its run folder
    unfinished). A plain handler, installed now, turns SIGTERM into the KeyboardInterrupt of Ctrl-C.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def _on_report_to_master(client_id: str, data: dict[str, object], **_: object) -> None:
    for rt in list(_runtimes.values()):
        if isinstance(rt.runner, WorkerRunner):
            rt.on_report_to_master(data)


def _on_worker_report(client_id: str, data: dict[str, object], **_: object) -> None:
    for rt in list(_runtimes.values()):
        if isinstance(rt.runner, MasterRunner):
            rt.on_slices(client_id, data.get(REPORT_KEY))
