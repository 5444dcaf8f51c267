"""The live report behind the web UI: ``summary.json`` and the report's plots, from the running timeline.

Nothing here re-implements the report. The writer's merged seconds (``Runtime.history``, on a master
the merge of every worker) become ``timeline.jsonl`` objects (:func:`line_from_slice`, the same code
that writes the file), the report package reads them back with its own pure reader
(:func:`loadtest.report.timeline.parse_second`), and :func:`loadtest.report.assemble.analyze`,
:func:`summary_dict` and :func:`make_figure` do the rest, exactly as for a finished run folder.

Analysis and drawing are CPU work (about 1 to 2 s for all plots), so they run in gevent's native
thread pool, one build at a time, and their results are cached: the summary until a new second
is written, the plots for :data:`REFRESH_S` seconds. Users and the web UI keep running meanwhile.
"""

from __future__ import annotations

import gevent
import gevent.lock

import io
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.harness.timeline import Slice, line_from_slice
from loadtest.report.assemble import Analysis, analyze, summary_dict
from loadtest.report.figures import FIGURES, make_figure
from loadtest.report.runfolder import RunData
from loadtest.report.timeline import Second, parse_second

__all__ = ["DPI", "REFRESH_S", "LiveReport", "Rendered", "render_figures"]

logger = logging.getLogger(__name__)

REFRESH_S = 5.0
"""Plots are redrawn at most this often (and only when new seconds were written)."""
DPI = 80
"""Resolution of the live plots (the run folder's plots use 100)."""
FIRST_RENDER_WAIT_S = 30.0
"""How long a request waits for the very first plots of a run before it answers without them."""


@dataclass(frozen=True)
class Rendered:
    """One drawing of every plot: ``images`` maps a plot's name to ``(caption, png bytes)``."""

    key: tuple[Any, ...]
    generation: int
    made_at: float  # epoch seconds
    seconds: int
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def render_figures(analysis: Analysis, dpi: int = DPI) -> tuple[dict[str, tuple[str, bytes]], list[str]]:
    """Every report figure as PNG bytes, in report order; a plot that fails is noted and left out."""
    images: dict[str, tuple[str, bytes]] = {}
    notes: list[str] = []
    for name, (caption, _) in FIGURES.items():
        try:
            fig = make_figure(name, analysis)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi)
        except Exception as exc:  # one plot that cannot be drawn must not cost the others
            notes.append(f"plot {name} could not be drawn: {type(exc).__name__}: {exc}")
            continue
        images[name] = (caption, buf.getvalue())
    return images, notes


def _offload(fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` in gevent's native thread pool; only the calling greenlet waits."""
    return gevent.get_hub().threadpool.apply(fn, args)


class LiveReport:
    """Live ``summary.json`` and plots for one :class:`~loadtest.harness.runtime.Runtime` (writer side)."""

    def __init__(self, runtime: Any, *, refresh_s: float = REFRESH_S, dpi: int = DPI) -> None:
        self.runtime = runtime
        self.refresh_s = refresh_s
        self.dpi = dpi
        self._lock = gevent.lock.BoundedSemaphore()  # one analysis at a time
        self._seconds: list[Second] = []
        self._run_start: int | None = None
        self._through = -1  # the last slice second converted
        self._analysis: tuple[tuple[Any, ...], Analysis] | None = None
        self._rendered: Rendered | None = None
        self._renderer: gevent.Greenlet | None = None
        self._generation = 0

    # -- the live timeline, in the report package's terms -------------------------------------------

    @property
    def has_run(self) -> bool:
        return self.runtime.runlog is not None

    def data_key(self) -> tuple[Any, ...]:
        """Changes whenever the data a report would show changes (a new second, the run's end)."""
        rt = self.runtime
        history = rt.history
        last = history[-1].second if history else -1
        run = rt.runlog.run if rt.runlog is not None else {}
        return (rt.start_second, len(history), last, run.get("ended_at"), len(run.get("slo") or ()))

    def seconds(self) -> list[Second]:
        """The written seconds of the current run as report :class:`Second` records (converted once each)."""
        rt = self.runtime
        if self._run_start != rt.start_second:
            self._run_start, self._seconds, self._through = rt.start_second, [], -1
        new: list[Slice] = []
        for s in reversed(rt.history):
            if s.second <= self._through:
                break
            new.append(s)
        for s in reversed(new):
            t = s.second - rt.start_second
            line = line_from_slice(s, t=t, step=rt.step_at(t), workers=max(len(s.health), 1))
            self._seconds.append(parse_second(line))
            self._through = s.second
        if len(self._seconds) > len(rt.history):  # the history is bounded; so is this copy
            del self._seconds[: len(self._seconds) - len(rt.history)]
        return self._seconds

    def run_data(self) -> RunData:
        """What a run folder would hold right now: ``run.json`` (with the steps so far) and the timeline."""
        rt = self.runtime
        assert rt.runlog is not None
        run: dict[str, Any] = json.loads(json.dumps(rt.runlog.run, default=str))  # a private copy
        if not run.get("steps"):
            run["steps"] = json.loads(json.dumps(rt.steps, default=str))
        notes = (
            [] if run.get("ended_at") else ["live: the run is still going; figures cover the seconds written so far."]
        )
        return RunData(
            path=Path(rt.runlog.folder),
            run=run,
            seconds=list(self.seconds()),
            has_run_json=True,
            has_timeline=True,
            notes=notes,
        )

    def analysis(self) -> Analysis | None:
        """The report's analysis of the live data (cached per :meth:`data_key`); ``None`` before a run."""
        if not self.has_run:
            return None
        with self._lock:
            key = self.data_key()
            if self._analysis is not None and self._analysis[0] == key:
                return self._analysis[1]
            data = self.run_data()
            result: Analysis = _offload(analyze, data)
            self._analysis = (key, result)
            return result

    def summary(self) -> dict[str, Any] | None:
        """The live ``summary.json`` (DESIGN §6), built by the report package; ``None`` before a run."""
        a = self.analysis()
        return summary_dict(a) if a is not None else None

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
        current = self._rendered
        if current is not None and current.key[0] != self.runtime.start_second:
            current = self._rendered = None  # a new run
        stale = current is None or (current.key != self.data_key() and time.time() - current.made_at >= self.refresh_s)
        if stale and not self.rendering:
            self._renderer = gevent.spawn(self._render)
        if current is None and wait_first and self._renderer is not None:
            self._renderer.join(timeout=FIRST_RENDER_WAIT_S)
            current = self._rendered
        return current

    def _render(self) -> None:
        key = self.data_key()
        try:
            a = self.analysis()
            if a is None:
                return
            images, notes = _offload(render_figures, a, self.dpi)
        except Exception:  # a report bug must not take the web UI down; the next request tries again
            logger.exception("live report could not be built")
            return
        self._generation += 1
        self._rendered = Rendered(
            key=key,
            generation=self._generation,
            made_at=time.time(),
            seconds=len(a.seconds),
            images=images,
            notes=list(a.notes) + notes,
        )

    # -- the finished run's report.html -------------------------------------------------------------

    def report_html(self) -> Path | None:
        """The run folder's ``report.html`` once this run has ended and its report was built, else ``None``."""
        rt = self.runtime
        if rt.runlog is None or not rt.finished or not rt.runlog.run.get("ended_at"):
            return None
        path = Path(rt.runlog.folder) / "report.html"
        started = float(rt.runlog.run.get("started_ts") or 0.0)
        try:
            return path if path.is_file() and path.stat().st_mtime >= started - 1.0 else None
        except OSError:
            return None
