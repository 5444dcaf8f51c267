"""Wiring into Locust's events: settings, per-second timeline, worker → master, run folder, SLO gate.

One :class:`Runtime` per Locust ``Environment`` (:func:`runtime_for`). On every process with users
(local or worker) a ticker closes each second of the :class:`Recorder`; a worker ships its closed
seconds with ``report_to_master``. On the process that writes (local or master) the slices go
into an :class:`Assembler`, and a writer loop appends each complete second to ``timeline.jsonl``,
checks ``--slo-abort`` and tells paced users their interval (message ``loadtest_pace``). At the end
(``quitting`` when headless, ``test_stop`` in the web UI) :class:`RunSlos` judges the run (verdict and
reason; exit 3 on a breach, 1 when nothing was measured), ``run.json`` is written, the report built.

:func:`install` registers the listeners once; `users.py` calls it.
"""

from __future__ import annotations

import gevent

from locust import events
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

import itertools
import logging
import signal
import sys
import threading
import time
import weakref
from collections import deque
from typing import Any

from loadtest.harness.locuststats import BatchedRows
from loadtest.harness.metrics import REQUEST_TYPE, Recorder
from loadtest.harness.options import OptionError, Settings, add_options
from loadtest.harness.pacing import PhaseAllocator
from loadtest.harness.runlog import RunLog
from loadtest.harness.slo import BreachTracker, RunSlos
from loadtest.harness.timeline import Assembler
from loadtest.harness.webui import install_web_ui
from loadtest.timeline import Second, to_line, window

__all__ = ["EXIT_SLO", "PACE_MESSAGE", "Runtime", "install", "runtime_for"]

logger = logging.getLogger("loadtest.harness")

EXIT_SLO = 3
PACE_MESSAGE = "loadtest_pace"
REPORT_KEY = "loadtest_timeline"
FINAL_MESSAGE = "loadtest_final_slices"
MASTER_MAX_LAG = 10  # seconds the master waits for a slow worker's slices
HISTORY = 7200  # seconds of merged slices kept for windows (search steps, live SLOs)

_runtimes: weakref.WeakKeyDictionary[Any, Runtime] = weakref.WeakKeyDictionary()
_installed = False


def runtime_for(environment: Any) -> Runtime:
    rt = _runtimes.get(environment)
    if rt is None:
        rt = _runtimes[environment] = Runtime(environment)
    return rt


class Runtime:
    """The harness's state for one Locust environment."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.settings: Settings | None = None
        runner = environment.runner
        self.recorder = Recorder(
            environment.events.request,
            worker_index=getattr(runner, "worker_index", 0) if isinstance(runner, WorkerRunner) else 0,
            user_count=lambda: getattr(environment.runner, "user_count", 0),
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
        self.history: deque[Second] = deque(maxlen=HISTORY)
        self.total = Second(0)
        self.judge = RunSlos((), None)
        self.steps: list[dict[str, Any]] = []
        self.offered_rate: float | None = None  # a shape's total offered rate for paced users
        self.offered_users: int | None = None
        self.tracker: BreachTracker | None = None
        self.aborted = False
        self.finished = True
        self.lost_workers: set[str] = set()
        self.ticking = False
        self._greenlets: list[gevent.Greenlet] = []

    # -- roles -------------------------------------------------------------------------------------

    @property
    def runner(self) -> Any:
        return self.environment.runner

    @property
    def has_users(self) -> bool:
        return not isinstance(self.runner, MasterRunner)

    @property
    def writes(self) -> bool:
        return not isinstance(self.runner, WorkerRunner)

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
            gevent.spawn(self._stop_runner)
            return
        self.recorder.bottleneck.lag_limit_ms = self.settings.lag_warning_ms
        if isinstance(self.runner, WorkerRunner):  # the index is assigned once the master has answered
            self.recorder.worker_index = self.phases.worker_index = int(self.runner.worker_index)
        self.pace_interval = None
        if self.has_users:
            batched = self.settings.locust_rows == "batched"
            self.recorder.rows = BatchedRows(self.runner.stats, REQUEST_TYPE) if batched else None
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
        self.history.clear()
        self.total = Second(0)
        opts = self.environment.parsed_options
        self.judge = RunSlos(self.settings.slos, getattr(opts, "slo", None) if opts is not None else None)
        self.runlog.run["slo_source"] = self.judge.source
        self.steps = []
        self.lost_workers = set()
        self.aborted = False
        self.finished = False
        self.tracker = BreachTracker(self.settings.slo_abort) if self.settings.slo_abort > 0 else None
        self.begin_step(0, None, None)
        logger.info("loadtest run folder: %s", self.runlog.folder)
        self._spawn(self._writer_loop)

    def on_test_stop(self) -> None:
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
            else:  # a worker: ship the last seconds now rather than with the next stats report
                payload: dict[str, Any] = {}
                self.on_report_to_master(payload)
                self.runner.send_message(FINAL_MESSAGE, payload[REPORT_KEY])
        if self.writes and self.environment.parsed_options and not self.environment.parsed_options.headless:
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

    def _spawn(self, fn: Any) -> None:
        self._greenlets = [g for g in self._greenlets if not g.dead]
        if any(getattr(g, "_loadtest_fn", None) == fn.__name__ for g in self._greenlets):
            return
        g = gevent.spawn(fn)
        g._loadtest_fn = fn.__name__  # type: ignore[attr-defined,unused-ignore]
        self._greenlets.append(g)

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

    def on_report_to_master(self, data: dict[str, Any]) -> None:
        slices, closed_through = self.recorder.take_closed()
        final = not self.ticking
        data[REPORT_KEY] = {
            "slices": [s.to_wire() for s in slices],
            "closed_through": closed_through,
            "final": final,
        }

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        self.on_slices(client_id, data.get(REPORT_KEY))

    def on_slices(self, client_id: str, payload: dict[str, Any] | None) -> None:
        if payload is None or self.assembler is None:
            return
        slices = [Second.from_wire(s) for s in payload.get("slices", [])]
        self.assembler.add(client_id, slices, int(payload["closed_through"]), final=bool(payload.get("final")))

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
        workers = len(getattr(self.runner, "clients", {}) or {}) or 1
        lost = self._note_lost_workers()
        for s in slices:
            s.t = t = s.second - self.start_second
            s.step = self.step_at(t)
            self.runlog.append(to_line(s, t=t, step=s.step, workers=workers, lost_workers=lost))
            self.history.append(s)
            self.judge.add(s)
            self.total.merge(s)

    def _note_lost_workers(self) -> int:
        """Workers Locust marked missing (no heartbeat): noted in run.json once, no longer waited for.

        Locust forgets a missing worker after a minute, so the count is kept here for the whole run.
        """
        for node in getattr(getattr(self.runner, "clients", None), "missing", []) or []:
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
        t = int(self.run_time())
        if self.steps and self.steps[-1]["index"] == index:
            last = self.steps[-1]
            last["users"] = users if users is not None else last["users"]
            last["offered_rate"] = offered_rate if offered_rate is not None else last["offered_rate"]
            return
        if self.steps:
            self.steps[-1]["end_t"] = t
        self.steps.append({"index": index, "start_t": t, "end_t": None, "users": users, "offered_rate": offered_rate})

    def step_at(self, t: int) -> int:
        current = 0
        for step in self.steps:
            if step["start_t"] <= t:
                current = step["index"]
        return current

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
        if self.complete_through() < int(end_t) - 1:
            return None
        lo, hi = self.start_second + int(start_t), self.start_second + int(end_t)
        return window((s for s in self.history if lo <= s.second < hi), lo)

    def _paced_users(self) -> int:
        counts = getattr(self.runner, "target_user_classes_count", {}) or {}
        paced = {cls.__name__ for cls in self.environment.user_classes if getattr(cls, "paced", False)}
        return sum(n for name, n in counts.items() if name in paced)

    def _broadcast_pace(self) -> None:
        if self.settings is None or self.runner is None:
            return
        rate = self.offered_rate if self.offered_rate is not None else (self.settings.action_rate or None)
        users = self._paced_users() or (self.offered_users or 0)
        interval = users / rate if rate and users else None
        workers = len(getattr(self.runner, "clients", {}) or {}) or 1
        self.runner.send_message(PACE_MESSAGE, {"interval": interval, "workers": workers})

    def on_pace_message(self, data: dict[str, Any]) -> None:
        interval = data.get("interval")
        self.pace_interval = float(interval) if interval else None
        self.workers = int(data.get("workers") or 1)

    # -- SLOs --------------------------------------------------------------------------------------

    def _check_abort(self) -> None:
        if self.tracker is None or self.settings is None or self.aborted:
            return
        results = self.judge.results(last=int(self.settings.slo_window))
        if self.tracker.update(time.time(), results):
            self.aborted = True
            breached = "; ".join(r.describe() for r in results if not r.ok)
            logger.error("SLO breached for %gs, stopping the run (--slo-abort): %s", self.settings.slo_abort, breached)
            if self.runlog is not None:
                self.runlog.note(f"aborted by --slo-abort after {self.settings.slo_abort:g}s: {breached}")
            self.environment.process_exit_code = EXIT_SLO
            gevent.spawn(self._stop_runner)

    def _stop_runner(self) -> None:
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
        if self.steps:
            self.steps[-1]["end_t"] = self.steps[-1]["end_t"] or max(self.complete_through() + 1, 0)
        errors = getattr(getattr(self.runner, "stats", None), "errors", None) or {}
        run = self.runlog.run
        results, verdict = self.judge.at_quit(self.total, run["profile"], self.settings.host, errors, self.aborted)
        for r in results:
            (logger.error if not r.ok else logger.info)("SLO %s", r.describe())
        if verdict.verdict != "pass":
            self.environment.process_exit_code = verdict.exit_code
        print(f"loadtest verdict: {verdict.verdict}: {verdict.reason}", file=sys.stderr)
        run["slo"] = [r.to_dict() for r in results]
        run["steps"] = self.steps
        run["timeline"] = {"seconds": self.runlog.lines, "late_slices": self.assembler.late}
        run["health"] = {"bottleneck_warnings": self.recorder.bottleneck.warnings}
        self.runlog.finish(exit_code=self._exit_code(), verdict=verdict.verdict, reason=verdict.reason)
        if not self.settings.skip_report:
            self.runlog.build_report()

    def _exit_code(self) -> int:
        if self.environment.process_exit_code is not None:
            return int(self.environment.process_exit_code)
        runner = self.runner
        if runner is not None and (runner.errors or runner.exceptions):
            opts = self.environment.parsed_options
            return int(getattr(opts, "exit_code_on_error", 1))
        return 0


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


def _on_init(environment: Any, **_: Any) -> None:
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

    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    for rt in list(_runtimes.values()):
        if isinstance(rt.runner, WorkerRunner):
            rt.on_report_to_master(data)


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    for rt in list(_runtimes.values()):
        if isinstance(rt.runner, MasterRunner):
            rt.on_worker_report(client_id, data)
