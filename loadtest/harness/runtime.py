"""Wiring into Locust's events: settings, the per-second recorder, worker → master, the run's writer.

One :class:`Runtime` per Locust ``Environment`` (:func:`runtime_for`). On every process with users
(local or worker) a ticker closes each second of the :class:`Recorder`; a worker ships its closed
seconds with ``report_to_master``. On the process that writes (local or master) the slices go to the
:class:`~loadtest.harness.writer.RunWriter` (its :attr:`Runtime.writer`), which writes the timeline and
``run.json``, keeps the SLO gate and ends the run. Paced users hear their interval here
(message ``loadtest_pace``).

:func:`install` registers the listeners once; `users.py` calls it.
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
from loadtest.harness.timeline import SlicesPayload, read_payload, slices_payload
from loadtest.harness.webui import install_web_ui
from loadtest.harness.writer import EXIT_SLO, PACE_MESSAGE, RunWriter

__all__ = ["EXIT_SLO", "PACE_MESSAGE", "Runtime", "install", "runtime_for"]

logger = logging.getLogger("loadtest.harness")

REPORT_KEY = "loadtest_timeline"
FINAL_MESSAGE = "loadtest_final_slices"


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
        self.writer = RunWriter(environment, lambda: self.recorder.bottleneck.warnings)
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
            self.writer.broadcast_pace()  # a local run need not wait for the writer's next second
        return self.pace_interval if self.pace_interval is not None else default

    # -- test start / stop -------------------------------------------------------------------------

    def on_test_start(self) -> None:
        try:
            self.settings = self.read_settings()
        except OptionError as exc:
            logger.error("%s", exc)
            self.environment.process_exit_code = 2
            gevent.spawn(self.writer.stop_runner)
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
            self.writer.start(self.settings)

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
            gevent.spawn(self.writer.finish_later)  # web UI: wait for the workers' last slices, then close the run

    def on_quitting(self) -> None:
        if self.writes:
            self.writer.finish()

    def drain(self) -> None:
        """A shape is done: let the workers report their last seconds before Locust quits."""
        self.writer.drain()

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
        if self.writer.assembler is not None:
            self.writer.assembler.add("local", slices, closed_through, final=final)

    def closed_slices(self) -> SlicesPayload:
        """This worker's closed seconds, for the master."""
        slices, closed_through = self.recorder.take_closed()
        return slices_payload(slices, closed_through, final=not self.ticking)

    def on_report_to_master(self, data: dict[str, object]) -> None:
        data[REPORT_KEY] = self.closed_slices()

    def on_slices(self, client_id: str, payload: object) -> None:
        """A worker's :class:`SlicesPayload` (with its stats report, or its final message)."""
        got = read_payload(payload)
        if got is not None and self.writer.assembler is not None:
            slices, closed_through, final = got
            self.writer.assembler.add(client_id, slices, closed_through, final=final)

    def on_pace_message(self, data: dict[str, object]) -> None:
        interval, workers = data.get("interval"), data.get("workers")
        self.pace_interval = float(interval) if isinstance(interval, int | float) and interval else None
        self.workers = int(workers) if isinstance(workers, int) and workers else 1


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
    install_web_ui(environment, rt.writer)
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
