"""Service-level objectives: parse ``--slo`` expressions and evaluate them over merged timeline data.

Grammar (one expression per ``--slo``; several may be joined with ``,`` or ``;``)::

    METRIC.STAT OP VALUE     echo.p95<250ms   turn.p99<=5s   connect.max<2s   echo.count>=100
                             connect.failures<5   turn.fail_ratio<1%
    COUNTER OP VALUE         gaps==0   duplicates==0   throttled<10   disconnects.server==0
    GROUP.ratio OP VALUE     throttled.ratio<1%      (group total ÷ operations)

``METRIC`` is a metric of DESIGN §3 (``connect``, ``echo``, ``first_event``, ``turn``, ``event_gap``,
``reconnect``, ``resync``, ``rest_create``, ``ready``) or its coordinated-omission twin (``echo_co``, ...).
``STAT`` is ``pNN`` (``p50``, ``p99.9``), ``min``, ``max``, ``mean``, ``count``, ``failures`` or
``fail_ratio``. Latency values take ``us``/``ms``/``s``/``m`` (a bare number is ms); ratios take
``%`` or a bare ratio. Operations (the ``ratio`` denominator) are actions + connect attempts + REST
calls. A latency objective with no samples is a breach: a server that answered nothing must not pass.

Pure: no Locust, no I/O.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from loadtest.harness.timeline import COUNTER_GROUPS, TOP_COUNTERS, Slice
from loadtest.harness.units import parse_duration, parse_list, parse_percent

__all__ = ["METRICS", "BreachTracker", "Slo", "SloError", "SloResult", "evaluate", "parse_slo", "parse_slos"]

METRICS = ("connect", "echo", "first_event", "turn", "event_gap", "reconnect", "resync", "rest_create", "ready")
EXTRA_COUNTERS = ("connects", "reconnects", "rest_calls", "dropped_actions", "operations")
EXAMPLE = "--slo 'echo.p95<250ms' --slo 'throttled.ratio<1%' --slo 'gaps==0'"

_OPS: dict[str, Callable[[float, float], bool]] = {
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


@dataclass(frozen=True)
class Slo:
    """One parsed objective."""

    expr: str
    kind: str  # "latency" | "count" | "ratio"
    subject: str  # metric name, counter key or group
    stat: str  # "p95", "max", "count", "failures", "fail_ratio", "ratio", "value"
    op: str
    threshold: float  # ms for latency, a ratio for ratios, a number otherwise

    def measure(self, data: Slice) -> float | None:
        """The measured value over ``data`` (ms, ratio or count); ``None`` when there are no samples."""
        if self.kind == "latency":
            h = data.hists.get(self.subject)
            if h is None or not h.count:
                return None
            if self.stat in ("mean", "avg"):
                return h.mean
            if self.stat == "min":
                return h.min
            if self.stat == "max":
                return h.max
            return h.percentile(float(self.stat[1:]))
        if self.stat == "count":
            h = data.hists.get(self.subject)
            return float(h.count if h else 0)
        if self.stat == "failures":
            return float(data.counter(f"failures.{self.subject}"))
        if self.stat == "fail_ratio":
            h = data.hists.get(self.subject)
            failed = data.counter(f"failures.{self.subject}")
            total = (h.count if h else 0) + failed
            return failed / total if total else 0.0
        if self.stat == "ratio":
            return data.counter(self.subject) / max(operations(data), 1)
        if self.subject == "operations":
            return float(operations(data))
        return float(data.counter(self.subject))

    def check(self, data: Slice) -> SloResult:
        value = self.measure(data)
        ok = value is not None and _OPS[self.op](value, self.threshold)
        return SloResult(self, value, ok)


@dataclass(frozen=True)
class SloResult:
    slo: Slo
    value: float | None
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        unit = {"latency": "ms", "ratio": "ratio"}.get(self.slo.kind, "count")
        out: dict[str, Any] = {
            "expr": self.slo.expr,
            "value": None if self.value is None else round(self.value, 6),
            "threshold": self.slo.threshold,
            "unit": unit,
            "ok": self.ok,
        }
        if self.value is None:
            out["detail"] = "no samples"
        return out

    def describe(self) -> str:
        if self.value is None:
            return f"{self.slo.expr}: no samples"
        shown = f"{self.value:.2f} ms" if self.slo.kind == "latency" else f"{self.value:g}"
        if self.slo.kind == "ratio":
            shown = f"{self.value * 100:.3g}%"
        return f"{self.slo.expr}: measured {shown} → {'ok' if self.ok else 'BREACH'}"


def operations(data: Slice) -> int:
    """Denominator of ``*.ratio``: actions + connect attempts + REST calls."""
    return data.counter("actions") + data.counter("connects") + data.counter("rest_calls")


def _fail(expr: str, why: str) -> SloError:
    return SloError(expr, why)


def _is_metric(name: str) -> bool:
    return name in METRICS or (name.endswith("_co") and name[:-3] in METRICS)


def parse_slo(expr: str) -> Slo:
    """Parse one expression; :class:`SloError` names ``--slo`` and shows an example."""
    m = _EXPR.match(expr)
    if not m:
        raise _fail(expr, "expected TARGET OP VALUE with OP one of < <= > >= == !=")
    target, op, raw = m.group(1), m.group(2), m.group(3)
    head, _, stat = target.partition(".")
    try:
        if _is_metric(head):
            if not stat:
                raise _fail(expr, f"say which statistic of {head!r}, e.g. {head}.p95")
            if _PCT.match(stat) or stat in _LATENCY_STATS:
                pct = _PCT.match(stat)
                if pct and not 0 < float(pct.group(1)) <= 100:
                    raise _fail(expr, "percentiles go from p0.1 to p100")
                return Slo(expr.strip(), "latency", head, stat, op, parse_duration(raw, default_unit="ms") * 1000.0)
            if stat in ("count", "failures"):
                return Slo(expr.strip(), "count", head, stat, op, float(raw))
            if stat == "fail_ratio":
                return Slo(expr.strip(), "ratio", head, stat, op, parse_percent(raw))
            raise _fail(expr, f"unknown statistic {stat!r}; use pNN, min, max, mean, count, failures or fail_ratio")
        if head in COUNTER_GROUPS:
            if stat == "ratio":
                return Slo(expr.strip(), "ratio", head, "ratio", op, parse_percent(raw))
            return Slo(expr.strip(), "count", target, "value", op, float(raw))
        if head in TOP_COUNTERS or head in EXTRA_COUNTERS:
            if stat == "ratio":
                return Slo(expr.strip(), "ratio", head, "ratio", op, parse_percent(raw))
            if stat:
                raise _fail(expr, f"{head!r} is a counter; compare it directly, e.g. {head}==0")
            return Slo(expr.strip(), "count", head, "value", op, float(raw))
    except ValueError as exc:
        if isinstance(exc, SloError):
            raise
        raise _fail(expr, f"bad value {raw!r} ({exc})") from None
    known = ", ".join((*METRICS, *TOP_COUNTERS, *COUNTER_GROUPS))
    raise _fail(expr, f"unknown metric or counter {head!r}; known: {known}")


def parse_slos(exprs: Iterable[str] | str | None) -> tuple[Slo, ...]:
    """Parse ``--slo`` values (each may hold several expressions joined by ``,`` or ``;``)."""
    items = parse_list(exprs if exprs is None or isinstance(exprs, str) else list(exprs))
    return tuple(parse_slo(e) for e in items)


def evaluate(slos: Sequence[Slo], data: Slice) -> list[SloResult]:
    return [slo.check(data) for slo in slos]


class BreachTracker:
    """Says when objectives have been breached continuously for ``hold`` seconds (``--slo-abort``)."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.since: float | None = None

    def update(self, now: float, results: Sequence[SloResult]) -> bool:
        """Feed the latest live results; True once the breach has lasted ``hold`` seconds."""
        breached = any(not r.ok and r.value is not None for r in results)
        if not breached:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.hold
