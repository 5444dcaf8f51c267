"""The ``--slo`` grammar, shared by the harness (live and at quit) and the report (per step, after a crash).

One expression per ``--slo`` (several may be joined with ``,`` or ``;``)::

    METRIC.STAT OP VALUE     echo.p95<250ms   turn.p99<=5s   connect.max<2s   echo.count>=100
                             connect.failures<5   turn.fail_ratio<1%
    COUNTER OP VALUE         gaps==0   duplicates==0   throttled<10   disconnects.server==0
    GROUP.ratio OP VALUE     throttled.ratio<1%      (group total ÷ operations)
    DERIVED OP VALUE         outage_s==0   errors.ratio<1%   operations>=100

``METRIC`` is a metric of DESIGN §3 (``connect``, ``echo``, ``first_event``, ``turn``, ``event_gap``,
``reconnect``, ``resync``, ``rest_create``, ``ready``; V1's ``ttft``, ``token_gap``) or its coordinated-omission
twin (``echo_co``, ...).
``STAT`` is ``pNN`` (``p50``, ``p99.9``), ``min``, ``max``, ``mean``, ``count``, ``failures`` or
``fail_ratio``. Latency values take ``us``/``ms``/``s``/``m`` (a bare number is ms); ratios take ``%`` or
a bare ratio. Operations (the ``ratio`` denominator) are actions + connect attempts + REST calls. A
latency objective with no samples is a breach: a server that answered nothing must not pass.
``errors`` (and ``errors.ratio``) counts the ``errors`` group plus the failed turns, connects, creations
and reconnects that no throttle signal explains (:func:`loadtest.timeline.error_count`); ``outage_s``
counts the seconds in which every socket was down after the first connect (:func:`loadtest.timeline.outages`).

When no ``--slo`` is given, :data:`DEFAULT_SLOS` apply; ``--slo none`` turns them off.
The names come from :mod:`loadtest.timeline`; :func:`measure` is the one measurer of every value.
Pure: no I/O.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from loadtest.histogram import Histogram
from loadtest.timeline import (
    COUNTER_GROUPS,
    DERIVED_COUNTERS,
    EXTRA_COUNTERS,
    METRICS,
    TOP_COUNTERS,
    Second,
    error_count,
    outages,
    window,
)
from loadtest.units import parse_duration, parse_list, parse_percent

__all__ = [
    "DEFAULT_SLOS",
    "EXAMPLE",
    "NONE",
    "OPS",
    "Slo",
    "SloError",
    "SloResult",
    "check",
    "measure",
    "parse_slo",
    "parse_slos",
    "slos_in_force",
    "split_exprs",
]

#: Objectives that apply when no ``--slo`` is given (README, "Verdicts").
DEFAULT_SLOS = ("errors.ratio<1%", "gaps==0", "outage_s==0")
#: The ``--slo`` value that turns the defaults off.
NONE = "none"
EXAMPLE = "--slo 'echo.p95<250ms' --slo 'throttled.ratio<1%' --slo 'gaps==0'"

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*?)\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*$")
_PCT = re.compile(r"^p(\d+(?:\.\d+)?)$")
_LATENCY_STATS = ("min", "max", "mean", "avg")


class SloError(ValueError):
    """A malformed ``--slo`` expression; the message names the option and shows an example."""

    def __init__(self, expr: str, why: str) -> None:
        self.expr = expr
        self.why = f"{why}; write e.g. {EXAMPLE}"
        super().__init__(f"--slo {expr!r}: {self.why}")


@dataclass(frozen=True, slots=True)
class Slo:
    """One parsed objective; ``threshold`` is ms for latencies, a fraction for ratios, a number otherwise."""

    expr: str
    kind: str  # "latency" | "count" | "ratio"
    subject: str  # metric name, counter key or group ("group.entry" for one entry of a group)
    stat: str  # "p95", "max", "count", "failures", "fail_ratio", "ratio" or "value"
    op: str
    threshold: float

    @property
    def is_latency(self) -> bool:
        return self.kind == "latency"

    def latency_of(self, h: Histogram | None) -> float | None:
        """This latency objective's statistic of ``h`` in ms; ``None`` without samples."""
        if h is None or not h.count:
            return None
        if self.stat in ("mean", "avg"):
            return h.mean
        if self.stat == "min":
            return h.min
        if self.stat == "max":
            return h.max
        return h.percentile(float(self.stat[1:]))

    def holds(self, value: float | None) -> bool:
        """Whether a measured value meets the objective (no value — no samples — never does)."""
        return value is not None and OPS[self.op](value, self.threshold)


def is_metric(name: str) -> bool:
    return name in METRICS or (name.endswith("_co") and name[:-3] in METRICS)


def parse_slo(expr: str) -> Slo:
    """Parse one expression; :class:`SloError` says what is wrong and shows an example."""
    m = _EXPR.match(expr)
    if not m:
        raise SloError(expr, "expected TARGET OP VALUE with OP one of < <= > >= == !=")
    target, op, raw = m.group(1), m.group(2), m.group(3)
    head, _, stat = target.partition(".")
    text = expr.strip()
    try:
        if is_metric(head):
            if not stat:
                raise SloError(expr, f"say which statistic of {head!r}, e.g. {head}.p95")
            pct = _PCT.match(stat)
            if pct or stat in _LATENCY_STATS:
                if pct and not 0 < float(pct.group(1)) <= 100:
                    raise SloError(expr, "percentiles go from p0.1 to p100")
                return Slo(text, "latency", head, stat, op, parse_duration(raw, default_unit="ms") * 1000.0)
            if stat in ("count", "failures"):
                return Slo(text, "count", head, stat, op, float(raw))
            if stat == "fail_ratio":
                return Slo(text, "ratio", head, stat, op, parse_percent(raw))
            raise SloError(expr, f"unknown statistic {stat!r}; use pNN, min, max, mean, count, failures or fail_ratio")
        if head in COUNTER_GROUPS:
            if stat == "ratio":
                return Slo(text, "ratio", head, "ratio", op, parse_percent(raw))
            return Slo(text, "count", target, "value", op, float(raw))
        if head in TOP_COUNTERS or head in EXTRA_COUNTERS or head in DERIVED_COUNTERS:
            if stat == "ratio":
                return Slo(text, "ratio", head, "ratio", op, parse_percent(raw))
            if stat:
                raise SloError(expr, f"{head!r} is a counter; compare it directly, e.g. {head}==0")
            return Slo(text, "count", head, "value", op, float(raw))
    except SloError:
        raise
    except ValueError as exc:
        raise SloError(expr, f"bad value {raw!r} ({exc})") from None
    known = ", ".join((*METRICS, *TOP_COUNTERS, *EXTRA_COUNTERS, *COUNTER_GROUPS, *DERIVED_COUNTERS))
    raise SloError(expr, f"unknown metric or counter {head!r}; known: {known}")


def split_exprs(values: Iterable[str] | str | None) -> list[str]:
    """``--slo`` values, each of which may hold several expressions joined by ``,`` or ``;``."""
    return parse_list(values if values is None or isinstance(values, str) else list(values))


def parse_slos(exprs: Iterable[str] | str | None) -> tuple[Slo, ...]:
    """Parse ``--slo`` values; ``none`` (which turns the defaults off) parses to nothing."""
    return tuple(parse_slo(e) for e in split_exprs(exprs) if e.lower() != NONE)


def slos_in_force(given: Iterable[str] | str | None) -> tuple[tuple[Slo, ...], str]:
    """The objectives a run is judged by, and why: ``("given")``, ``("default")`` or ``("none")``.

    Any ``--slo`` replaces :data:`DEFAULT_SLOS`; ``--slo none`` alone turns every objective off.
    """
    items = split_exprs(given)
    if not items:
        return parse_slos(DEFAULT_SLOS), "default"
    slos = parse_slos(items)
    return slos, ("given" if slos else "none")


# -- measuring: the one measure (live gate, verdict at quit, summary.json, report) -----------------


@dataclass(frozen=True, slots=True)
class SloResult:
    """One objective's outcome: the measured value (``None`` without samples) and whether it held.

    ``ok`` is ``None`` when the expression could not be judged (not in the grammar); ``source`` says
    who measured it: ``"run"`` (the harness, over the run's seconds) or ``"report"``.
    """

    expr: str
    value: float | None
    ok: bool | None
    unit: str = "count"  # "ms", "ratio" or "count"
    threshold: float | None = None
    source: str = "run"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "expr": self.expr,
            "value": None if self.value is None else round(self.value, 6),
            "threshold": self.threshold,
            "unit": self.unit,
            "ok": self.ok,
        }
        if self.value is None:
            out["detail"] = "no samples"
        return out

    def describe(self) -> str:
        if self.value is None:
            return f"{self.expr}: no samples"
        shown = f"{self.value:.2f} ms" if self.unit == "ms" else f"{self.value:g}"
        if self.unit == "ratio":
            shown = f"{self.value * 100:.3g}%"
        return f"{self.expr}: measured {shown} → {'ok' if self.ok else 'BREACH'}"


def _as_seconds(data: Second | Sequence[Second]) -> Sequence[Second]:
    return [data] if isinstance(data, Second) else data


def measure(slo: Slo, data: Second | Sequence[Second], merged: Second | None = None) -> float | None:
    """The value of ``slo`` over ``data`` (ms, ratio or count); ``None`` when a latency has no samples.

    The one measurer: the live gate, the verdict at quit, ``summary.json`` and the report all call it.
    ``outage_s`` needs the seconds in order; every other value is measured over their merge
    (``merged``, when the caller keeps it up to date, saves merging them again).
    """
    seconds = _as_seconds(data)
    if slo.subject == "outage_s":
        return float(sum(o.duration_s for o in outages(seconds)))
    total = merged if merged is not None else seconds[0] if len(seconds) == 1 else window(seconds)
    if slo.kind == "latency":
        return slo.latency_of(total.hists.get(slo.subject))
    if slo.stat == "count":
        h = total.hists.get(slo.subject)
        return float(h.count if h else 0)
    if slo.stat == "failures":
        return float(total.counter(f"failures.{slo.subject}"))
    if slo.stat == "fail_ratio":
        h = total.hists.get(slo.subject)
        failed = total.counter(f"failures.{slo.subject}")
        n = (h.count if h else 0) + failed
        return failed / n if n else 0.0
    count = error_count(total) if slo.subject == "errors" else total.counter(slo.subject)
    if slo.stat == "ratio":
        return count / max(total.operations, 1)
    return float(count)


def check(slo: Slo, data: Second | Sequence[Second], source: str = "run", merged: Second | None = None) -> SloResult:
    value = measure(slo, data, merged)
    unit = {"latency": "ms", "ratio": "ratio"}.get(slo.kind, "count")
    return SloResult(slo.expr, value, slo.holds(value), unit, slo.threshold, source)
