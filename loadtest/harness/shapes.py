"""Load shapes: pure step/ramp/spike/search functions of run time, and the Locust shapes built on them.

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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from loadtest.units import parse_duration

__all__ = [
    "CapacitySearchShape",
    "LoadShape",
    "RampShape",
    "SearchOutcome",
    "SpikeShape",
    "Step",
    "StepSearch",
    "StepShape",
    "ThrottleSearchShape",
    "Tick",
    "held_conversations",
    "parse_steps",
    "ramp_at",
    "spike_at",
    "step_at",
]


@dataclass(frozen=True)
class Step:
    """One item of ``--shape-steps``: a value (users, or an offered rate) held/reached over ``duration`` s."""

    value: float
    duration: float


@dataclass(frozen=True)
class Tick:
    """What a shape wants now: users, spawn rate, and which step it is in (0-based)."""

    users: int
    spawn_rate: float
    step: int


def parse_steps(text: str, default_duration: float) -> tuple[Step, ...]:
    """``'10,20@60s,40'`` → Steps; ``ValueError`` explains the form."""
    steps: list[Step] = []
    for item in (p.strip() for p in str(text).replace(";", ",").split(",")):
        if not item:
            continue
        value_text, at, duration_text = item.partition("@")
        try:
            value = float(value_text)
            duration = parse_duration(duration_text) if at else default_duration
        except ValueError:
            raise ValueError(f"bad step {item!r}: expected N or N@DURATION, e.g. 10,20@60s,40") from None
        if value < 0 or duration <= 0 or math.isnan(value):
            raise ValueError(f"bad step {item!r}: values must be ≥ 0 and durations > 0, e.g. 10,20@60s,40")
        steps.append(Step(value, duration))
    if not steps:
        raise ValueError("no steps given: expected e.g. 10,20,40 or 10@30s,20@60s")
    return tuple(steps)


def _locate(t: float, steps: Sequence[Step]) -> tuple[int, float] | None:
    """(index of the step containing ``t``, time since that step began), or None after the last."""
    start = 0.0
    for i, step in enumerate(steps):
        if t < start + step.duration:
            return i, t - start
        start += step.duration
    return None


def step_starts(steps: Sequence[Step]) -> list[float]:
    out, start = [], 0.0
    for step in steps:
        out.append(start)
        start += step.duration
    return out


def step_at(t: float, steps: Sequence[Step], spawn_rate: float) -> Tick | None:
    """Hold each step's user count for its duration; None after the last step."""
    where = _locate(t, steps)
    if where is None:
        return None
    i, _ = where
    return Tick(round(steps[i].value), spawn_rate, i)


def ramp_at(t: float, steps: Sequence[Step], min_spawn_rate: float = 1.0) -> Tick | None:
    """Linear from the previous value (0 before the first) to each step's value over its duration."""
    where = _locate(t, steps)
    if where is None:
        return None
    i, into = where
    prev = steps[i - 1].value if i else 0.0
    step = steps[i]
    users = prev + (step.value - prev) * min(into / step.duration, 1.0)
    slope = abs(step.value - prev) / step.duration
    return Tick(round(users), max(min_spawn_rate, math.ceil(slope * 2)), i)


def spike_at(t: float, steps: Sequence[Step]) -> Tick | None:
    """Like :func:`step_at`, but each change completes within a second (spawn rate = the jump)."""
    where = _locate(t, steps)
    if where is None:
        return None
    i, _ = where
    prev = steps[i - 1].value if i else 0.0
    jump = abs(steps[i].value - prev)
    return Tick(round(steps[i].value), max(1.0, jump), i)


@dataclass(frozen=True)
class SearchOutcome:
    """Where a search stopped: the last good step and the first failing one (None if none failed)."""

    last_good: int | None
    first_bad: int | None
    detail: dict[str, Any]


# An evaluator answers for a window [start_t, end_t) of run time: None while its data is not yet
# complete, else (passed, detail).
Evaluator = Callable[[float, float], "tuple[bool, dict[str, Any]] | None"]


class StepSearch:
    """Step through values, judge each step on its steady part, stop after the first failing one.

    Pure state machine for ``CapacitySearchShape`` (values are users, the judge is the SLOs) and
    ``ThrottleSearchShape`` (values are offered rates, the judge is the throttle ratio). After each
    step's duration it holds the load until the evaluator has complete data (at most ``max_wait``
    seconds), then moves on or stops.
    """

    def __init__(
        self, steps: Sequence[Step], *, warmup: float, max_wait: float = 10.0, max_settle: float = 60.0
    ) -> None:
        self.steps = tuple(steps)
        self.warmup = warmup
        self.max_wait = max_wait
        self.max_settle = max_settle
        self.settling_since: float | None = None
        self.settled_index = -1
        self.index = 0
        self.step_start = 0.0
        self.last_good: int | None = None
        self.first_bad: int | None = None
        self.detail: dict[str, Any] = {}
        self.verdicts: list[dict[str, Any]] = []
        self.done = False

    def window(self) -> tuple[float, float]:
        step = self.steps[self.index]
        skip = min(self.warmup, step.duration / 2)
        return self.step_start + skip, self.step_start + step.duration

    def advance(self, t: float, evaluate: Evaluator, settled: bool = True) -> int | None:
        """The step index to apply at run time ``t``, or None when the search is over.

        ``settled`` is False while the step's load is still being put in place (users spawning): the
        step's clock starts only once it is, for at most ``max_settle`` seconds of waiting.
        """
        if self.done:
            return None
        if self.settled_index != self.index:
            if not settled:
                if self.settling_since is None:
                    self.settling_since = t
                if t - self.settling_since < self.max_settle:
                    return self.index
            if self.settling_since is not None:
                self.step_start = t  # the step's clock starts now that its load is in place
            self.settling_since = None
            self.settled_index = self.index
        step = self.steps[self.index]
        end = self.step_start + step.duration
        if t < end:
            return self.index
        start_w, end_w = self.window()
        verdict = evaluate(start_w, end_w)
        if verdict is None and t < end + self.max_wait:
            return self.index  # hold the load until the step's data is complete
        passed, detail = verdict if verdict is not None else (False, {"error": "no data for the step"})
        self.verdicts.append({"index": self.index, "value": step.value, "ok": passed, **detail})
        if passed:
            self.last_good = self.index
            if self.index + 1 >= len(self.steps):
                self.done = True
                return None
            self.index += 1
            self.step_start = t
            return self.index
        self.first_bad = self.index
        self.detail = detail
        self.done = True
        return None

    def outcome(self) -> SearchOutcome:
        return SearchOutcome(self.last_good, self.first_bad, dict(self.detail))


# -- Locust shapes -------------------------------------------------------------------------------

#: Objectives a capacity search uses when no --slo is given.
DEFAULT_CAPACITY_SLOS = ("connect.fail_ratio<1%", "turn.fail_ratio<1%", "throttled.ratio<1%")
SETTLE_GRACE = 5.0  # seconds after spawning a search step waits at most for its users to connect
#: A capacity step holds its N conversations only if this share of them had a connected socket, on average over
#: the judged seconds: users backing off after evictions or refusals are conversations the server did not hold.
HELD_SHARE = 0.99


def held_conversations(sockets_per_second: list[float]) -> float:
    """Mean connected sockets over the judged seconds (0 when there were none)."""
    return sum(sockets_per_second) / len(sockets_per_second) if sockets_per_second else 0.0


class HarnessShape(LoadTestShape):
    """Base of our shapes: settings from the run, steps reported to the run folder."""

    abstract = True
    run_shape_name = "HarnessShape"

    def _runtime(self) -> Any:
        from loadtest.harness.runtime import runtime_for

        assert self.runner is not None
        return runtime_for(self.runner.environment)

    def _settings(self) -> Any:
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
        self._runtime().begin_step(tick.step, tick.users, offered_rate)
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
        rt = self._runtime()
        latest = rt.history[-1] if rt.history else None
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

    def _judge(self, start: float, end: float) -> tuple[bool, dict[str, Any]] | None:
        from loadtest.harness.slo import evaluate, parse_slos

        rt = self._runtime()
        data = rt.window(start, end)
        if data is None:
            return None
        slos = self._settings().slos or parse_slos(DEFAULT_CAPACITY_SLOS)
        results = evaluate(slos, data)
        search = self._search()
        users = round(search.steps[search.index].value)  # the step being judged
        lo, hi = rt.start_second + int(start), rt.start_second + int(end)
        held = held_conversations([x.gauges.get("sockets", 0.0) for x in rt.history if lo <= x.second < hi])
        kept = held >= HELD_SHARE * users
        detail = {"slo": [r.to_dict() for r in results], "held": round(held, 2), "users": users}
        return all(r.ok for r in results) and kept, detail

    def tick(self) -> tuple[int, float] | None:
        search = self._search()
        target = round(search.steps[search.index].value)
        index = search.advance(self.get_run_time(), self._judge, settled=self._settled(target))
        if index is None:
            self._record(search)
            self._end()
            return None
        s = self._settings()
        users = round(search.steps[index].value)
        self._runtime().begin_step(index, users, None)
        return users, s.step_spawn_rate

    def _record(self, search: StepSearch) -> None:
        rt = self._runtime()
        if rt.runlog is None or "capacity" in rt.runlog.run:
            return
        out = search.outcome()
        good = search.steps[out.last_good].value if out.last_good is not None else None
        rt.runlog.run["capacity"] = {
            "max_conversations_within_slo": int(good) if good is not None else 0,
            "first_failing_conversations": int(search.steps[out.first_bad].value)
            if out.first_bad is not None
            else None,
            "slo": [s.expr for s in (self._settings().slos)] or list(DEFAULT_CAPACITY_SLOS),
            "steps": search.verdicts,
        }


class ThrottleSearchShape(_SearchShape):
    """Hold ``--throttle-users`` (default: ``-u``) paced users and raise their total offered action rate step by step.

    Each ``--shape-steps`` value is a total rate (actions/s); a step fails when throttle signals
    exceed ``--throttle-threshold`` of the actions sent in it. The onset (the first failing rate,
    its main signal and when it first appeared) goes to ``run.json`` ``throttle_onset``.
    """

    run_shape_name = "ThrottleSearchShape"

    def _judge(self, start: float, end: float) -> tuple[bool, dict[str, Any]] | None:
        data = self._runtime().window(start, end)
        if data is None:
            return None
        throttled = data.group("throttled")
        total = sum(throttled.values())
        actions = data.counter("actions")
        ratio = total / max(actions, 1)
        signal = max(throttled, key=lambda k: throttled[k]) if throttled else None
        detail = {"actions": actions, "throttled": total, "throttle_ratio": round(ratio, 6), "signal": signal}
        return ratio <= self._settings().throttle_threshold, detail

    def tick(self) -> tuple[int, float] | None:
        search = self._search()
        s = self._settings()
        opts = self.runner.environment.parsed_options if self.runner else None
        users = s.throttle_users or int(getattr(opts, "num_users", None) or 1)
        index = search.advance(self.get_run_time(), self._judge, settled=self._settled(users))
        rt = self._runtime()
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
        rt = self._runtime()
        if rt.runlog is None or "throttle_onset" in rt.runlog.run:
            return
        out = search.outcome()
        onset = None
        if out.first_bad is not None:
            first_bad_step = next(s for s in rt.steps if s["index"] == out.first_bad)
            at = next(
                (
                    s.second - rt.start_second
                    for s in rt.history
                    if s.second - rt.start_second >= first_bad_step["start_t"] and s.counter("throttled")
                ),
                first_bad_step["start_t"],
            )
            onset = {
                "offered_rate": search.steps[out.first_bad].value,
                "signal": out.detail.get("signal"),
                "at_s": at,
                "throttle_ratio": out.detail.get("throttle_ratio"),
                "step_start_s": first_bad_step["start_t"],
            }
        rt.runlog.run["throttle_onset"] = onset
        rt.runlog.run["throttle_search"] = search.verdicts


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
            self._runtime().begin_step(0, users, None)
            return users, rate
        if self._inner is None or type(self._inner) is not cls:
            self._inner = cls()
            self._inner.runner = self.runner
            self._inner.start_time = self.start_time
        return cast("tuple[int, float] | None", self._inner.tick())  # our shapes never pick user classes
