"""The live report behind the web UI: ``summary.json`` and the report's plots, while the run goes on.

Nothing here re-implements the report. The run folder's ``timeline.jsonl`` (written and flushed by
the harness every second; on a master, the merge of every worker) and the harness's live copy of
``run.json`` go to the renderer process (:mod:`loadtest.harness.webui.render`), which reads them
with the report package's own reader and calls its ``analyze``, ``summary_dict`` and
``make_figure``, exactly as for a finished run folder.

The renderer is a separate process, started on first use and ended with Locust, because drawing
takes a second or two of CPU: in a thread of this process it held the GIL and the gevent loop
lagged 60 to 120 ms each time. One request at a time; answers are cached, the summary until a new
second is written, the plots for at least :data:`REFRESH_S` seconds.
"""

from __future__ import annotations

import gevent
import gevent.lock
from gevent import subprocess

import base64
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from loadtest.errors import LoadtestError
from loadtest.harness.webui.render import RenderReply, RenderRequest

if TYPE_CHECKING:
    from loadtest.harness.writer import RunWriter

#: What identifies the data a drawing was made from: folder, start, lines written, end, objectives judged.
DataKey: TypeAlias = tuple[str | None, object, int, object, int]

__all__ = ["DPI", "REFRESH_S", "LiveReport", "RenderError", "RenderWorker", "Rendered"]

logger = logging.getLogger(__name__)

REFRESH_S = 5.0
"""Plots are redrawn at most this often (and only when new seconds were written)."""
DPI = 80
"""Resolution of the live plots (the run folder's plots use 100)."""
RENDER_TIMEOUT_S = 120.0
"""A renderer that has not answered by then is ended (and started again on the next request)."""
FIRST_RENDER_WAIT_S = 60.0
"""How long a request waits for the very first plots of a run before it answers without them."""


class RenderError(LoadtestError, RuntimeError):
    """The renderer process failed, timed out or answered with an error."""


class RenderWorker:
    """The renderer process: started on first use, asked one request at a time, stopped by its handle."""

    def __init__(self, timeout: float = RENDER_TIMEOUT_S) -> None:
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = gevent.lock.BoundedSemaphore()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            argv = [sys.executable, "-m", "loadtest.harness.webui.render"]
            root = str(Path(__file__).resolve().parents[2])  # where `loadtest` is, installed or not
            path = os.environ.get("PYTHONPATH")
            env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
            self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        return self._proc

    def ask(self, request: RenderRequest) -> RenderReply:
        with self._lock:
            proc = self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                with gevent.Timeout(self.timeout):
                    proc.stdin.write(json.dumps(request).encode() + b"\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
            except (gevent.Timeout, OSError) as exc:
                self.stop()
                raise RenderError(f"the renderer did not answer: {exc!r}") from None
            if not line:
                self.stop()
                raise RenderError("the renderer exited")
            reply: RenderReply = json.loads(line)
        if reply.get("error"):
            raise RenderError(str(reply["error"]))
        return reply

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # the process we started, by its handle
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass(frozen=True)
class Rendered:
    """One drawing of every plot: ``images`` maps a plot's name to ``(caption, png bytes)``."""

    key: DataKey
    generation: int
    made_at: float  # epoch seconds
    seconds: int
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class LiveReport:
    """Live ``summary.json`` and plots for one :class:`~loadtest.harness.writer.RunWriter` (writer side)."""

    def __init__(self, runtime: RunWriter, *, refresh_s: float = REFRESH_S, dpi: int = DPI) -> None:
        self.runtime = runtime
        self.refresh_s = refresh_s
        self.dpi = dpi
        self.worker = RenderWorker()
        self._summary: tuple[DataKey, dict[str, object]] | None = None
        self._rendered: Rendered | None = None
        self._renderer: gevent.Greenlet | None = None
        self._generation = 0

    @property
    def has_run(self) -> bool:
        return self.runtime.runlog is not None

    def data_key(self) -> DataKey:
        """Changes whenever the data a report would show changes (a new line, the run's end)."""
        runlog = self.runtime.runlog
        if runlog is None:
            return (None, None, 0, None, 0)
        slo = runlog.get("slo")
        return (str(runlog.folder), runlog.get("started_at"), runlog.lines, runlog.get("ended_at"),
                len(slo) if isinstance(slo, list) else 0)  # fmt: skip

    def request(self, *, plots: bool) -> RenderRequest:
        """What the renderer needs: the folder, how many timeline lines are complete, the live run.json."""
        runlog = self.runtime.runlog
        if runlog is None:
            raise RenderError("no run has started yet")
        run = runlog.snapshot()  # a copy, the live steps included
        return {"folder": str(runlog.folder), "lines": runlog.lines, "run": run, "plots": plots, "dpi": self.dpi}

    def summary(self) -> dict[str, object] | None:
        """The live ``summary.json`` (DESIGN §6), built by the report package; ``None`` before a run."""
        if not self.has_run:
            return None
        key = self.data_key()
        if self._summary is None or self._summary[0] != key:
            self._summary = (key, self.worker.ask(self.request(plots=False)).get("summary", {}))
        return self._summary[1]

    # -- plots --------------------------------------------------------------------------------------

    @property
    def rendering(self) -> bool:
        return self._renderer is not None and not self._renderer.dead

    def plots(self, *, wait_first: bool = True) -> Rendered | None:
        """The newest drawing of the plots; starts a new one in the background when it is stale.

        Returns at once with what is cached, except for the first drawing of a run, which it waits
        for (at most :data:`FIRST_RENDER_WAIT_S`) when ``wait_first``.
        """
        if not self.has_run:
            return None
        key = self.data_key()
        current = self._rendered
        if current is not None and current.key[:2] != key[:2]:
            current = self._rendered = None  # a new run
        stale = current is None or (current.key != key and time.time() - current.made_at >= self.refresh_s)
        if stale and not self.rendering:
            self._renderer = gevent.spawn(self._render)
        if current is None and wait_first and self._renderer is not None:
            self._renderer.join(timeout=FIRST_RENDER_WAIT_S)
            current = self._rendered
        return current

    def _render(self) -> None:
        key = self.data_key()
        try:
            reply = self.worker.ask(self.request(plots=True))
        except RenderError as exc:  # the next request tries again
            logger.warning("live report could not be drawn: %s", exc)
            return
        self._generation += 1
        images = {name: (str(cap), base64.b64decode(png)) for name, (cap, png) in reply.get("images", {}).items()}
        self._summary = (key, reply.get("summary", {}))
        self._rendered = Rendered(
            key=key,
            generation=self._generation,
            made_at=time.time(),
            seconds=int(reply.get("seconds", 0)),
            images=images,
            notes=[str(n) for n in reply.get("notes", [])],
        )

    def close(self) -> None:
        """End the renderer process (Locust is quitting)."""
        if self._renderer is not None:
            self._renderer.kill(block=False)
        self.worker.stop()

    # -- the finished run's report.html -------------------------------------------------------------

    def report_html(self) -> Path | None:
        """The run folder's ``report.html`` once this run has ended and its report was built, else ``None``."""
        rt = self.runtime
        if rt.runlog is None or not rt.finished or not rt.runlog.get("ended_at"):
            return None
        path = Path(rt.runlog.folder) / "report.html"
        started_ts = rt.runlog.get("started_ts")
        started = float(started_ts) if isinstance(started_ts, int | float) else 0.0
        try:
            return path if path.is_file() and path.stat().st_mtime >= started - 1.0 else None
        except OSError:
            return None
