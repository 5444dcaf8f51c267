"""Locust load shapes on top of the pure step and search maths of :mod:`loadtest.harness.steps`.

All shapes read ``--shape-steps`` (``N[@DURATION]`` items, e.g. ``10,20,40@60s``; the duration
defaults to ``--step-duration``). ``StepShape`` holds each user count for its duration,
``RampShape`` moves linearly from the previous count (0 at first) to each count over its duration,
``SpikeShape`` jumps between counts within one second, ``CapacitySearchShape`` steps users up and
stops after the first step whose SLOs fail (recording the last good step) and ``ThrottleSearchShape``
holds ``--throttle-users`` (default ``-u``) paced users and steps their total offered action rate (the step values)
until throttle signals exceed ``--throttle-threshold`` of the actions (recording the onset).
"""

from __future__ import annotations

from locust import LoadTestShape

from typing import cast

from loadtest.harness.options import Settings
from loadtest.harness.runtime import Runtime, runtime_for
from loadtest.harness.slo import evaluate, parse_slos
from loadtest.harness.steps import (
    HELD_SHARE,
    Judgement,
    StepSearch,
    Tick,
    capacity_result,
    held_conversations,
    ramp_at,
    spike_at,
    step_at,
    throttle_judgement,
    throttle_onset,
)
from loadtest.harness.writer import RunWriter

__all__ = [
    "CapacitySearchShape",
    "LoadShape",
    "RampShape",
    "SpikeShape",
    "StepShape",
    "ThrottleSearchShape",
]

#: Objectives a capacity search uses when no --slo is given.
DEFAULT_CAPACITY_SLOS = ("connect.fail_ratio<1%", "turn.fail_ratio<1%", "throttled.ratio<1%")
SETTLE_GRACE = 5.0  # seconds after spawning a search step waits at most for its users to connect


class HarnessShape(LoadTestShape):
    """Base of our shapes: settings from the run, steps reported to the run folder."""

    abstract = True
    run_shape_name = "HarnessShape"

    def _runtime(self) -> Runtime:
        assert self.runner is not None
        return runtime_for(self.runner.environment)

    def _writer(self) -> RunWriter:
        return self._runtime().writer

    def _settings(self) -> Settings:
        rt = self._runtime()
        if rt.settings is None:
            rt.settings = rt.read_settings()
        return rt.settings

    def _end(self) -> None:
        """The shape is done: let the workers report their last seconds before Locust quits."""
        self._runtime().drain()

    def _apply(self, tick: Tick | None, offered_rate: float | None = None) -> tuple[int, float] | None:
        if tick is None:
            self._end()
            return None
        self._writer().begin_step(tick.step, tick.users, offered_rate)
        return tick.users, tick.spawn_rate


class StepShape(HarnessShape):
    """Hold each ``--shape-steps`` user count for its duration (``--step-spawn-rate`` between steps)."""

    run_shape_name = "StepShape"

    def tick(self) -> tuple[int, float] | None:
        s = self._settings()
        return self._apply(step_at(self.get_run_time(), s.shape_steps(), s.step_spawn_rate))


class RampShape(HarnessShape):
    """Move linearly from each ``--shape-steps`` count to the next over the step's duration."""

    run_shape_name = "RampShape"

    def tick(self) -> tuple[int, float] | None:
        s = self._settings()
        return self._apply(ramp_at(self.get_run_time(), s.shape_steps(), s.step_spawn_rate))


class SpikeShape(HarnessShape):
    """Jump between the ``--shape-steps`` counts within a second each (e.g. ``10@30s,200@10s,10@30s``)."""

    run_shape_name = "SpikeShape"

    def tick(self) -> tuple[int, float] | None:
        return self._apply(spike_at(self.get_run_time(), self._settings().shape_steps()))


class _SearchShape(HarnessShape):
    abstract = True
    search: StepSearch | None = None

    def reset_time(self) -> None:
        super().reset_time()
        self.search = None

    def record_outcome(self) -> None:
        """Write what the search found so far (the run may end before the search does)."""
        if self.search is not None:
            self._record(self.search)

    def _record(self, search: StepSearch) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    _spawned: tuple[int, float] | None = None

    def _settled(self, users: int) -> bool:
        """The step's users are running and connected (or have had 5 s to connect: a refusing server is data)."""
        runner = self.runner
        if runner is None or runner.user_count < users:
            return False
        now = self.get_run_time()
        if self._spawned is None or self._spawned[0] != users:
            self._spawned = (users, now)
        rt = self._writer()
        latest = rt.history.latest
        connected = latest is not None and latest.gauges.get("sockets", 0) >= users
        return connected or now - self._spawned[1] >= SETTLE_GRACE

    def _search(self) -> StepSearch:
        if self.search is None:
            s = self._settings()
            self.search = StepSearch(s.shape_steps(), warmup=s.step_warmup)
        return self.search


class CapacitySearchShape(_SearchShape):
    """Step up conversations (users) until a step breaks the SLOs; record the last good step.

    The verdict of each step is the ``--slo`` objectives (default :data:`DEFAULT_CAPACITY_SLOS`)
    over the step without its first ``--step-warmup``, and the conversations held: on average at least
    :data:`HELD_SHARE` of the step's users connected (a user backing off after an eviction is not held, even
    when nothing fails while it waits). The result goes to ``run.json`` ``capacity``.
    """

    run_shape_name = "CapacitySearchShape"

    def _judge(self, start: float, end: float) -> Judgement | None:
        rt = self._writer()
        data = rt.window(start, end)
        if data is None:
            return None
        slos = self._settings().slos or parse_slos(DEFAULT_CAPACITY_SLOS)
        results = evaluate(slos, data)
        search = self._search()
        users = round(search.value)  # the step being judged
        held = held_conversations([x.gauges.get("sockets", 0.0) for x in rt.history.between(start, end)])
        kept = held >= HELD_SHARE * users
        detail = {"slo": [r.to_dict() for r in results], "held": round(held, 2), "users": users}
        return all(r.ok for r in results) and kept, detail

    def tick(self) -> tuple[int, float] | None:
        search = self._search()
        target = round(search.value)
        index = search.advance(self.get_run_time(), self._judge, settled=self._settled(target))
        if index is None:
            self._record(search)
            self._end()
            return None
        s = self._settings()
        users = round(search.steps[index].value)
        self._writer().begin_step(index, users, None)
        return users, s.step_spawn_rate

    def _record(self, search: StepSearch) -> None:
        rt = self._writer()
        if rt.runlog is None or rt.runlog.has_result("capacity"):
            return
        slos = [s.expr for s in self._settings().slos] or list(DEFAULT_CAPACITY_SLOS)
        rt.runlog.record_result("capacity", capacity_result(search, slos))


class ThrottleSearchShape(_SearchShape):
    """Hold ``--throttle-users`` (default: ``-u``) paced users and raise their total offered action rate step by step.

    Each ``--shape-steps`` value is a total rate (actions/s); a step fails when throttle signals
    exceed ``--throttle-threshold`` of the actions sent in it. The onset (the first failing rate,
    its main signal and when it first appeared) goes to ``run.json`` ``throttle_onset``.
    """

    run_shape_name = "ThrottleSearchShape"

    def _judge(self, start: float, end: float) -> Judgement | None:
        data = self._writer().window(start, end)
        if data is None:
            return None
        return throttle_judgement(data.group("throttled"), data.counter("actions"), self._settings().throttle_threshold)

    def tick(self) -> tuple[int, float] | None:
        search = self._search()
        s = self._settings()
        opts = self.runner.environment.parsed_options if self.runner else None
        users = s.throttle_users or int(getattr(opts, "num_users", None) or 1)
        index = search.advance(self.get_run_time(), self._judge, settled=self._settled(users))
        rt = self._writer()
        if index is None:
            self._record(search)
            self._end()
            return None
        rate = search.steps[index].value
        if rt.offered_rate != rate:
            rt.set_offered_rate(rate, users)
        rt.begin_step(index, users, rate)
        return users, s.step_spawn_rate

    def _record(self, search: StepSearch) -> None:
        rt = self._writer()
        if rt.runlog is None or rt.runlog.has_result("throttle_onset"):
            return
        first_bad = search.outcome().first_bad
        start_t = rt.runlog.steps.start_of(first_bad) if first_bad is not None else None
        seconds = ((x.second - rt.start_second, x.counter("throttled")) for x in rt.history)
        rt.runlog.record_result("throttle_onset", throttle_onset(search, start_t, seconds))
        rt.runlog.record_result("throttle_search", search.verdict_dicts())


class LoadShape(HarnessShape):
    """The default shape of ``locustfile.py``: ``--shape`` picks one of the above, ``none`` follows -u/-r/-t."""

    use_common_options = True
    _inner: HarnessShape | None = None

    KINDS: dict[str, type[HarnessShape]] = {
        "step": StepShape,
        "ramp": RampShape,
        "spike": SpikeShape,
        "capacity": CapacitySearchShape,
        "throttle": ThrottleSearchShape,
    }

    @property
    def run_shape_name(self) -> str | None:  # type: ignore[override]
        try:
            kind = self._settings().shape
        except Exception:
            return None
        return self.KINDS[kind].run_shape_name if kind in self.KINDS else None

    def reset_time(self) -> None:
        super().reset_time()
        self._inner = None

    def record_outcome(self) -> None:
        inner = self._inner
        if isinstance(inner, _SearchShape):
            inner.record_outcome()

    def tick(self) -> tuple[int, float] | None:
        s = self._settings()
        cls = self.KINDS.get(s.shape)
        opts = self.runner.environment.parsed_options if self.runner else None
        run_time = getattr(opts, "run_time", None)
        if run_time and self.get_run_time() >= run_time:
            self._end()
            return None  # Locust's own --run-time timer never starts while a shape runs headless
        if cls is None:
            users = int(getattr(opts, "num_users", None) or 1)
            rate = float(getattr(opts, "spawn_rate", None) or 1.0)
            self._writer().begin_step(0, users, None)
            return users, rate
        if self._inner is None or type(self._inner) is not cls:
            self._inner = cls()
            self._inner.runner = self.runner
            self._inner.start_time = self.start_time
        return cast("tuple[int, float] | None", self._inner.tick())  # our shapes never pick user classes
